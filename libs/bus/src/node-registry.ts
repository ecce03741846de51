// The cpu node registry: how dom0 finds its cpu nodes instead of being given a list. Each cpu
// node puts one entry, `cpu.<node id>` in the KV bucket `splitvisor-nodes`, saying where
// others reach its gRPC API, and puts it again every heartbeat; the bucket's TTL (the
// stream's max age) drops an entry whose node stopped putting it. A clean stop deletes it.
//
// Why KV and not NATS service discovery ($SRV.PING, micro): a watch tells dom0 of a new node
// the moment it registers, with no polling interval; the bucket lives in JetStream beside the
// rest of the xenstore-like tree, so a restarted dom0 reads who is there at once; and what a
// cpu may write is one subject ($KV.splitvisor-nodes.cpu.*), which NATS permissions say
// exactly, where answering $SRV pings means subscribing to everyone's discovery traffic.
// nats-server 2.9 has no per-message TTL and writes no marker when an entry ages out: the
// reader (dom0) keeps each entry's last-seen time on its own clock and lets it expire itself.

/** The registry's own bucket: its TTL is bucket-wide, unlike the VM tree's history. */
export const NODE_REGISTRY_BUCKET = 'splitvisor-nodes';
/** An entry not put again for this long is gone (bucket max age, and dom0's expiry). */
export const NODE_TTL_MS = 6000;
/** How often a node puts its entry again: a third of the TTL, so two lost puts are survived. */
export const NODE_HEARTBEAT_MS = 2000;
/** Every cpu node's entry. */
export const CPU_NODE_KEYS = 'cpu.*';

/** What a cpu node says of itself. */
export interface CpuNodeEntry {
  /** The node's id: the key's last token (letters, digits, '-', '_'). */
  id: string;
  /** host:port where dom0 reaches the node's gRPC API (its advertised address). */
  addr: string;
  /** When the process started (ms since the epoch): a new one is a restarted node. */
  startedAt: number;
  pid?: number;
  host?: string;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks a node id (one KV key token); throws naming it. */
export function checkNodeId(id: string): string {
  if (!ID.test(id)) throw new Error(`cpu node id "${id}": use 1..64 letters, digits, '-' or '_'`);
  return id;
}

/** A node id made from any text (a hostname with dots, say): what is not allowed becomes '-'. */
export function toNodeId(text: string): string {
  const id = text
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return id || 'cpu';
}

export const nodeKey = (id: string) => `cpu.${checkNodeId(id)}`;

/** Why `addr` cannot be a node's address, or undefined when it can: host:port, the host a
 *  name, an IPv4 or a bracketed IPv6 address, never a wildcard (nobody reaches 0.0.0.0). */
export function badNodeAddress(addr: unknown): string | undefined {
  if (typeof addr !== 'string') return `addr is ${addr === undefined ? 'missing' : `a ${typeof addr}`}, not host:port`;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(addr);
  if (!m) return `addr "${addr}" is not host:port`;
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `addr "${addr}": port ${port} is out of range 1..65535`;
  if (host === '0.0.0.0' || /^\[[0:]*\]$/.test(host))
    return `addr "${addr}" is a wildcard, which no one can reach (set SPLITVISOR_ADVERTISE_ADDR on that node)`;
  if (!host.startsWith('[')) {
    if (/^[0-9.]+$/.test(host)) {
      const parts = host.split('.');
      if (parts.length !== 4 || parts.some((p) => p === '' || Number(p) > 255)) return `addr "${addr}": "${host}" is not an IPv4 address`;
    } else if (host.split('.').some((l) => l === '' || l.length > 63 || l.startsWith('-') || l.endsWith('-'))) {
      return `addr "${addr}": "${host}" is not a host name`;
    }
  }
  return undefined;
}

export function encodeNodeEntry(e: CpuNodeEntry): string {
  return JSON.stringify(e);
}

export type ParsedNodeEntry = { ok: true; entry: CpuNodeEntry } | { ok: false; error: string };

/** A registry entry as read: the key must be `cpu.<id>`, the value a JSON object whose id is
 *  the key's and whose addr is reachable host:port. Anything else is an error naming why. */
export function parseNodeEntry(key: string, value: Uint8Array | string): ParsedNodeEntry {
  const m = /^cpu\.([^.]+)$/.exec(key);
  if (!m || !ID.test(m[1]!)) return { ok: false, error: `key "${key}" is not cpu.<node id>` };
  const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: `value is not JSON: ${JSON.stringify(text.slice(0, 80))}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: `value is not a JSON object: ${text.slice(0, 80)}` };
  const o = v as Record<string, unknown>;
  if (o['id'] !== m[1]) return { ok: false, error: `id ${JSON.stringify(o['id'])} is not the key's "${m[1]}"` };
  const bad = badNodeAddress(o['addr']);
  if (bad) return { ok: false, error: bad };
  const startedAt = o['startedAt'];
  if (typeof startedAt !== 'number' || !Number.isFinite(startedAt) || startedAt < 0)
    return { ok: false, error: `startedAt ${JSON.stringify(startedAt)} is not a time` };
  const entry: CpuNodeEntry = { id: m[1]!, addr: o['addr'] as string, startedAt };
  if (typeof o['pid'] === 'number') entry.pid = o['pid'];
  if (typeof o['host'] === 'string') entry.host = o['host'];
  return { ok: true, entry };
}
