// dom0 follows every VM's lifecycle events from JetStream, not core NATS: after a restart
// it reads what it missed while it was down (a guest that powered off, reset or crashed
// meanwhile) and applies the VM's policy late rather than never. How far it has handled
// is kept in KV, advanced only past events whose handling finished.
import { jetstreamManager } from '@nats-io/jetstream';
import { LifecycleEventCodec, type EventsV1 } from '@splitvisor/proto';
import { streams, subjects, type Bus, type KV, type Unsubscribe } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';

/** Where dom0 keeps the sequence of the last lifecycle event it fully handled. */
export const HANDLED_KEY = 'dom0.lifecycle.handled';

export class LifecycleFollower {
  /** Received and not yet handled, in arrival (sequence) order. */
  private readonly pending: { seq: number; done: boolean }[] = [];
  private handledUpTo = 0;
  private saved = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private stopReading: Unsubscribe | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly kv: KV,
    /** `subject` says which VM and which service reported; the body is not trusted for either. */
    private readonly handle: (ev: EventsV1.LifecycleEvent__Output, subject: string) => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Starts following; resolves once everything stored before now has been received. */
  async start(catchUpMs = 10_000): Promise<{ replayedFrom: number; upTo: number }> {
    const entry = await this.kv.get(HANDLED_KEY);
    const jsm = await jetstreamManager(this.bus.nc);
    const last = (await jsm.streams.info(streams.lifecycle.name)).state.last_seq;
    // No record: the first dom0 ever, with nothing to catch up on. A record of 0 is a dom0
    // that started on an empty stream and died before it handled an event: everything
    // since is what it missed (read as "no record", a guest's poweroff while the second
    // dom0 was starting was skipped, and the VM marked failed).
    const recorded = entry && entry.operation === 'PUT' ? entry.string() : undefined;
    const saved = recorded !== undefined && /^\d{1,15}$/.test(recorded) ? Number(recorded) : -1;
    if (recorded !== undefined && saved < 0) {
      this.log.warn({ key: HANDLED_KEY, value: recorded }, 'how far lifecycle events were handled is not a sequence number; following from the newest');
    }
    this.handledUpTo = this.saved = saved >= 0 ? saved : last;
    if (saved < 0) await this.kv.put(HANDLED_KEY, String(last));
    const from = this.handledUpTo;
    let received = this.handledUpTo;
    let caughtUp!: () => void;
    const reached = new Promise<void>((r) => (caughtUp = r));
    if (received >= last) caughtUp();
    this.stopReading = await this.bus.replay(
      streams.lifecycle,
      subjects.allLifecycle,
      LifecycleEventCodec,
      (ev, subject, seq) => {
        const item = { seq, done: false };
        this.pending.push(item);
        void this.handle(ev, subject).finally(() => {
          item.done = true;
          this.advance();
        });
        received = seq;
        if (received >= last) caughtUp();
      },
      { afterSeq: this.handledUpTo },
    );
    const timer = setTimeout(caughtUp, catchUpMs);
    await reached;
    clearTimeout(timer);
    if (received < last) this.log.warn({ received, last }, 'lifecycle catch-up incomplete; going on');
    return { replayedFrom: from, upTo: last };
  }

  private advance(): void {
    while (this.pending.length && this.pending[0]!.done) this.handledUpTo = this.pending.shift()!.seq;
    if (this.handledUpTo > this.saved && !this.saveTimer) {
      this.saveTimer = setTimeout(() => void this.save(), 200);
    }
  }

  private async save(): Promise<void> {
    this.saveTimer = undefined;
    const upTo = this.handledUpTo;
    if (upTo <= this.saved) return;
    try {
      await this.kv.put(HANDLED_KEY, String(upTo));
      this.saved = upTo;
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot record how far lifecycle events are handled');
    }
  }

  async stop(): Promise<void> {
    this.stopReading?.();
    clearTimeout(this.saveTimer);
    await this.save();
  }
}
