// dom0's part of the fault plane (issue 15): the table of link faults, kept in KV so a
// restarted dom0 has it again, handed whole to every service on NATS at each change (and to
// a service that asks when it starts). The services enforce each deadline themselves; dom0
// drops an expired fault from its own table at the same time. `list` asks every process
// what it applies now, so what it shows is what the lab does, not only what dom0 meant.
import { randomInt } from 'node:crypto';
import { FaultTableCodec, FaultsHeldCodec, type Dom0V1, type EventsV1 } from '@splitvisor/proto';
import { kvKeys, subjects, type Bus, type KV, type Unsubscribe } from '@splitvisor/bus';
import { FaultError, describeFault, parseFault, type FaultSpec } from '@splitvisor/faults';
import { invalidArgument, notFound } from '@splitvisor/rpc';
import type { Logger } from '@splitvisor/log';

interface Stored {
  next: number;
  faults: FaultSpec[];
}

export class FaultStore {
  private faults = new Map<string, FaultSpec>();
  private next = 1;
  private timer: NodeJS.Timeout | undefined;
  private unserve: Unsubscribe | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  /** Reads the table from KV, answers services that ask for it, and tells them all. */
  async start(): Promise<void> {
    const e = await this.kv.get(kvKeys.faultTable).catch(() => null);
    if (e && e.length) {
      try {
        const s = e.json<Stored>();
        this.next = s.next;
        for (const f of s.faults) this.faults.set(f.id, f);
      } catch {
        this.log.warn({ key: kvKeys.faultTable }, 'ignoring an unreadable fault table in KV');
      }
    }
    this.unserve = this.bus.serve(subjects.faultSync, FaultTableCodec, FaultTableCodec, () => this.wire());
    await this.changed();
    if (this.faults.size) this.log.info({ faults: [...this.faults.keys()] }, 'link faults restored from KV');
  }

  stop(): void {
    clearTimeout(this.timer);
    this.unserve?.();
  }

  async add(req: Dom0V1.AddFaultRequest__Output): Promise<Dom0V1.FaultInfo> {
    let parsed;
    try {
      parsed = parseFault(req.words, req.for || undefined);
    } catch (e) {
      if (e instanceof FaultError) throw invalidArgument(e.message);
      throw e;
    }
    const { forMs, ...rest } = parsed;
    const spec: FaultSpec = { ...rest, id: `f${this.next++}`, expiresAtMs: Date.now() + forMs, seed: req.seed || randomInt(1, 2 ** 31) };
    this.faults.set(spec.id, spec);
    await this.changed();
    this.log.info({ fault: spec.id, what: describeFault(spec), forMs }, 'link fault on');
    return this.info(spec, []);
  }

  async clear(id: string): Promise<Dom0V1.ListFaultsReply> {
    this.prune();
    if (id && !this.faults.has(id)) throw notFound(`fault "${id}" is not in the table (${[...this.faults.keys()].join(', ') || 'it is empty'})`);
    const gone = id ? [this.faults.get(id)!] : [...this.faults.values()];
    if (id) this.faults.delete(id);
    else this.faults.clear();
    await this.changed();
    if (gone.length) this.log.info({ faults: gone.map((f) => f.id) }, 'link faults cleared');
    return { faults: gone.map((f) => this.info(f, [])), strays: [] };
  }

  async list(): Promise<Dom0V1.ListFaultsReply> {
    this.prune();
    const held = await this.bus.gather(subjects.faultHeld, FaultTableCodec, { faults: [] }, FaultsHeldCodec, 400);
    const by = (id: string) =>
      held
        .filter((h) => h.ids.includes(id))
        .map((h) => `${h.service} (pid ${h.pid})`)
        .sort();
    const hits = (id: string) => held.reduce((n, h) => n + Number(h.hits[h.ids.indexOf(id)] ?? 0), 0);
    const strays = [...new Set(held.flatMap((h) => h.ids))].filter((id) => !this.faults.has(id));
    return {
      faults: [...this.faults.values()].map((f) => this.info(f, by(f.id), hits(f.id))),
      strays: strays.map((id) => ({ spec: { id }, description: 'held by a process, not in dom0’s table', remainingMs: 0, appliedBy: by(id), hits: hits(id) })),
    };
  }

  private info(f: FaultSpec, appliedBy: string[], hits = 0): Dom0V1.FaultInfo {
    return { spec: f, description: describeFault(f), remainingMs: Math.max(0, f.expiresAtMs - Date.now()), appliedBy, hits };
  }

  private wire(): EventsV1.FaultTable {
    this.prune();
    return { faults: [...this.faults.values()] };
  }

  /** Drops what passed its deadline from dom0's own table (the services did already). */
  private prune(): boolean {
    const now = Date.now();
    let any = false;
    for (const [id, f] of this.faults) {
      if (f.expiresAtMs > now) continue;
      this.faults.delete(id);
      any = true;
    }
    return any;
  }

  /** Saves, tells every service, and wakes at the next deadline to do it again. */
  private async changed(): Promise<void> {
    clearTimeout(this.timer);
    this.prune();
    await this.kv.put(kvKeys.faultTable, JSON.stringify({ next: this.next, faults: [...this.faults.values()] } satisfies Stored));
    this.bus.publish(subjects.faultTable, FaultTableCodec, this.wire());
    if (this.faults.size === 0) return;
    const next = Math.min(...[...this.faults.values()].map((f) => f.expiresAtMs));
    this.timer = setTimeout(
      () => void this.changed().catch((e: Error) => this.log.warn({ err: e.message }, 'fault table: cannot save')),
      Math.max(0, next - Date.now()) + 5,
    );
    this.timer.unref();
  }
}
