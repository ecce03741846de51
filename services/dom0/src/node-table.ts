// dom0's table of cpu nodes, without a network: the static ones it was given
// (SPLITVISOR_CPU_ADDR, always there) and the ones the node registry names (libs/bus
// node-registry.ts), each live until its entry is deleted (a clean stop) or not put again
// for a TTL (the node died, or lost NATS). Nodes are known by their address, as placement,
// `list` and the VM records name them; an address is live while any entry names it. What
// changes comes back as events for node-registry.ts to act on.
import { parseNodeEntry, type CpuNodeEntry } from '@splitvisor/bus';

export type NodeEvent =
  /** An address became live: a node appeared, came back, or moved here. */
  | { kind: 'up'; addr: string; id: string }
  /** An address is live no more. */
  | { kind: 'gone'; addr: string; id: string; why: string }
  /** An entry that is not a node's: ignored. Told once until it changes. */
  | { kind: 'bad'; key: string; error: string };

interface Seen {
  entry: CpuNodeEntry;
  /** When dom0 last heard of it, on dom0's clock (server and dom0 clocks may differ). */
  seenAt: number;
}

export class NodeTable {
  private readonly byKey = new Map<string, Seen>();
  /** Discovered addresses in the order they first became live: placement's tie-break. */
  private readonly order: string[] = [];
  private readonly bad = new Map<string, string>();

  constructor(
    readonly ttlMs: number,
    readonly staticNodes: readonly string[] = [],
  ) {}

  /** Every live node: the static ones first, in their order, then the discovered ones. */
  live(): string[] {
    const found = this.order.filter((a) => !this.staticNodes.includes(a));
    return [...this.staticNodes, ...found];
  }

  isLive(addr: string): boolean {
    return this.staticNodes.includes(addr) || this.order.includes(addr);
  }

  /** The registry's entries, as dom0 last read them. */
  entries(): CpuNodeEntry[] {
    return [...this.byKey.values()].map((s) => s.entry);
  }

  /** An entry put (registered, or a heartbeat). */
  put(key: string, value: Uint8Array | string, now: number): NodeEvent[] {
    const p = parseNodeEntry(key, value);
    if (!p.ok) {
      if (this.bad.get(key) === p.error) return [];
      this.bad.set(key, p.error);
      return [{ kind: 'bad', key, error: p.error }];
    }
    this.bad.delete(key);
    const before = this.byKey.get(key);
    this.byKey.set(key, { entry: p.entry, seenAt: now });
    if (before && before.entry.addr === p.entry.addr) return [];
    const out: NodeEvent[] = [];
    if (before) out.push(...this.release(before.entry, `node ${p.entry.id} now says it is at ${p.entry.addr}`));
    if (!this.order.includes(p.entry.addr)) {
      this.order.push(p.entry.addr);
      if (!this.staticNodes.includes(p.entry.addr)) out.push({ kind: 'up', addr: p.entry.addr, id: p.entry.id });
    }
    return out;
  }

  /** An entry deleted: the node stopped cleanly (or someone removed it). */
  delete(key: string): NodeEvent[] {
    this.bad.delete(key);
    const s = this.byKey.get(key);
    if (!s) return [];
    this.byKey.delete(key);
    return this.release(s.entry, 'it left the node registry');
  }

  /** Entries not heard of for a TTL: expired. */
  sweep(now: number): NodeEvent[] {
    const out: NodeEvent[] = [];
    for (const [key, s] of this.byKey) {
      if (now - s.seenAt <= this.ttlMs) continue;
      this.byKey.delete(key);
      out.push(...this.release(s.entry, `its registry entry expired (no heartbeat for ${now - s.seenAt} ms)`));
    }
    return out;
  }

  /** Every entry heard of now: after NATS was away, when no heartbeat could arrive. */
  touchAll(now: number): void {
    for (const s of this.byKey.values()) s.seenAt = now;
  }

  /** `entry` no longer holds its address live: gone, unless another entry names it. */
  private release(entry: CpuNodeEntry, why: string): NodeEvent[] {
    if ([...this.byKey.values()].some((s) => s.entry.addr === entry.addr)) return [];
    const i = this.order.indexOf(entry.addr);
    if (i >= 0) this.order.splice(i, 1);
    if (this.staticNodes.includes(entry.addr)) return [];
    return [{ kind: 'gone', addr: entry.addr, id: entry.id, why }];
  }
}
