// The faults one process applies, consulted by its gRPC client interceptor (libs/rpc) and
// its NATS wrapper (libs/bus) on the links it originates. `active` is the hot path's one
// check: false whenever the table is empty. Each fault leaves at its deadline by this
// process's own timer, so a dom0 that dies cannot leave one behind.
import { formatDuration } from './duration.js';
import { PARTITION_FAMILIES, concerns, parseLink, subjectLink, type Link, type RpcLinkName } from './link.js';
import { seededRandom } from './rng.js';
import { checkSpec, describeFault, type FaultSpec } from './spec.js';

interface Entry {
  spec: FaultSpec;
  link: Link;
  random: () => number;
  /** Calls or messages it took effect on in this process (delayed, dropped, failed, doubled). */
  hits: number;
  /** bandwidth: until when what was sent before still occupies the link. */
  busyUntil: number;
}

/** What to do to one gRPC call (or one message of a stream). */
export interface RpcDecision {
  /** Fail it with UNAVAILABLE and this message (a partition, a drop). */
  fail?: string;
  delayMs: number;
}

/** What to do to one NATS message. */
export interface NatsDecision {
  /** Do not send it; why. */
  drop?: string;
  delayMs: number;
  duplicate: boolean;
  /** Held back this long outside the subject's queue, so messages after it overtake it. */
  reorderMs?: number;
}

export const NO_RPC_FAULT: RpcDecision = Object.freeze({ delayMs: 0 });
export const NO_NATS_FAULT: NatsDecision = Object.freeze({ delayMs: 0, duplicate: false });

export class FaultTable {
  /** True while any fault is held: when false, callers skip the table entirely. */
  active = false;
  private entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** The service this process is (cpu, mmu, io-backend, dom0): faults apply at the origin. */
    public self = '',
    private readonly now: () => number = Date.now,
    /** Called when faults leave at their deadline (for a log line). */
    public onExpired: (specs: FaultSpec[]) => void = () => undefined,
  ) {}

  /** Replaces the table with `specs` (dom0 sends the whole table each time: state, not
   *  events, so a lost message is mended by the next). Expired ones are ignored. Returns
   *  the specs refused, with why. */
  replace(specs: readonly FaultSpec[]): { spec: FaultSpec; error: string }[] {
    const refused: { spec: FaultSpec; error: string }[] = [];
    const next = new Map<string, Entry>();
    const t = this.now();
    for (const s of specs) {
      try {
        checkSpec(s);
      } catch (e) {
        refused.push({ spec: s, error: (e as Error).message });
        continue;
      }
      if (s.expiresAtMs <= t) continue;
      // A fault already held keeps its generator: its sequence of choices goes on. One
      // that now names another link is another fault under the same id.
      const old = this.entries.get(s.id);
      next.set(
        s.id,
        old && old.spec.seed === s.seed && old.spec.link === s.link
          ? { ...old, spec: s }
          : { spec: s, link: parseLink(s.link), random: seededRandom(s.seed), hits: 0, busyUntil: 0 },
      );
    }
    this.entries = next;
    this.rearm();
    return refused;
  }

  add(spec: FaultSpec): void {
    this.replace([...this.list(), spec]);
  }

  remove(id?: string): number {
    const before = this.entries.size;
    if (id === undefined) this.entries.clear();
    else this.entries.delete(id);
    this.rearm();
    return before - this.entries.size;
  }

  list(): FaultSpec[] {
    this.expire();
    return [...this.entries.values()].map((e) => e.spec);
  }

  /** The faults this process applies (on links it originates), as `fault list` shows. */
  applied(): (FaultSpec & { hits: number })[] {
    this.expire();
    return [...this.entries.values()].filter((e) => concerns(e.link, e.spec.kind === 'partition', this.self)).map((e) => ({ ...e.spec, hits: e.hits }));
  }

  /** A call (or a stream's message) of `bytes` from this process to `target` (a service name). */
  rpc(target: string, bytes = 0): RpcDecision {
    if (!this.active) return NO_RPC_FAULT;
    let delayMs = 0;
    for (const e of this.entries.values()) {
      const l = e.link;
      if (l.kind !== 'rpc') continue;
      const forward = l.from === this.self && l.to === target;
      const backward = l.from === target && l.to === this.self;
      if (e.spec.kind === 'partition' && (forward || backward)) return { fail: `${this.hit(e)}: ${this.self} cannot reach ${target}`, delayMs: 0 };
      if (!forward || e.spec.expiresAtMs <= this.now()) continue;
      if (e.spec.kind === 'drop' && e.random() < e.spec.probability) return { fail: `dropped by ${this.hit(e)}`, delayMs: 0 };
      if (e.spec.kind === 'latency') delayMs += this.delay(e);
      if (e.spec.kind === 'bandwidth') delayMs += this.transmit(e, bytes);
    }
    return delayMs ? { delayMs } : NO_RPC_FAULT;
  }

  /** A message of `bytes` this process sends on `subject`. */
  nats(subject: string, bytes = 0): NatsDecision {
    if (!this.active) return NO_NATS_FAULT;
    const sl = subjectLink(subject);
    if (!sl) return NO_NATS_FAULT;
    let delayMs = 0;
    let duplicate = false;
    let reorderMs = 0;
    for (const e of this.entries.values()) {
      const l = e.link;
      if (e.spec.expiresAtMs <= this.now()) continue;
      if (l.kind === 'rpc') {
        if (e.spec.kind === 'partition' && (l.from === this.self || l.to === this.self) && PARTITION_FAMILIES[l.name as RpcLinkName].includes(sl.family))
          return { drop: this.hit(e), delayMs: 0, duplicate: false };
        continue;
      }
      if (l.family !== sl.family || (l.scope !== '*' && l.scope !== sl.scope)) continue;
      if (e.spec.kind === 'drop' && e.random() < e.spec.probability) return { drop: this.hit(e), delayMs: 0, duplicate: false };
      if (e.spec.kind === 'duplicate' && e.random() < e.spec.probability) {
        e.hits++;
        duplicate = true;
      }
      if (e.spec.kind === 'reorder' && e.random() < e.spec.probability) {
        e.hits++;
        reorderMs = Math.max(reorderMs, e.spec.latencyMs);
      }
      if (e.spec.kind === 'latency') delayMs += this.delay(e);
      if (e.spec.kind === 'bandwidth') delayMs += this.transmit(e, bytes);
    }
    if (reorderMs) return { delayMs, duplicate, reorderMs };
    return delayMs || duplicate ? { delayMs, duplicate } : NO_NATS_FAULT;
  }

  /** "fault f3 (partition cpu:mmu, 2.5s left)": what an error caused by a fault says. */
  private why(e: Entry): string {
    return `fault ${e.spec.id} (${describeFault(e.spec)}, ${formatDuration(Math.max(0, e.spec.expiresAtMs - this.now()))} left)`;
  }

  /** Counts a fault taking effect; says which. */
  private hit(e: Entry): string {
    e.hits++;
    return this.why(e);
  }

  /** How long a message of `bytes` waits for the link: its turn, then its own size's time. */
  private transmit(e: Entry, bytes: number): number {
    e.hits++;
    const now = this.now();
    e.busyUntil = Math.max(now, e.busyUntil) + (bytes * 1000) / e.spec.bytesPerSecond;
    return Math.round(e.busyUntil - now);
  }

  private delay(e: Entry): number {
    e.hits++;
    const j = e.spec.jitterMs ? (e.random() * 2 - 1) * e.spec.jitterMs : 0;
    return Math.max(0, Math.round(e.spec.latencyMs + j));
  }

  /** Drops what passed its deadline; tells onExpired. */
  private expire(): void {
    const t = this.now();
    const gone = [...this.entries.values()].filter((e) => e.spec.expiresAtMs <= t);
    if (!gone.length) return;
    for (const e of gone) this.entries.delete(e.spec.id);
    this.active = this.entries.size > 0;
    this.onExpired(gone.map((e) => e.spec));
  }

  private rearm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.expire();
    this.active = this.entries.size > 0;
    if (!this.active) return;
    const next = Math.min(...[...this.entries.values()].map((e) => e.spec.expiresAtMs));
    // Timers fire late, never early: at worst a fault lasts a few ms past its deadline,
    // and `nats`/`rpc` skip an expired entry meanwhile anyway.
    this.timer = setTimeout(() => this.rearm(), Math.max(0, next - this.now()) + 1);
    this.timer.unref();
  }
}

/** This process's table: libs/rpc's interceptor and libs/bus read it, the runtime fills it. */
export const faultPlane = new FaultTable();
