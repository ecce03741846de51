// The host side of a vCPU's posted writes (exit-channel/posted-ring.ts): the VMM draining KVM's
// coalesced MMIO ring, and the eventfd behind an ioeventfd.
//
// Order is the whole point. Deliveries of one vCPU run one after another (a chain), and
// each takes the ring as it is when its turn comes, so io-backend applies the writes in
// program order. A delivery's PostWrites goes on the vCPU's exit stream (MmioPort.post),
// which io-backend serves in the order it was sent, so what is sent after it is applied
// after it: a delivery's turn ends once its writes are sent, not once they are answered.
// - before a synchronous exit is served, every delivery ahead of it is sent and what the
//   ring still holds rides on the exit's Mmio request (applied before the access). The exit
//   does not wait for those deliveries' answers: it travels right behind them, so a slow
//   link (a latency fault) costs the exit its own trip once, not the delivery's trip first;
// - a doorbell is published only once the coalesced writes posted before it are applied
//   (the last PostWrites sent answered). Synchronous accesses before it are complete by
//   construction: the vCPU was blocked in them. Later accesses of the vCPU may reach
//   io-backend before the doorbell does, as a later access may run before an ioeventfd's
//   reader wakes;
// - flush (a pause, a stop, a page fetch) waits until everything sent is answered;
// - a doorbell is acknowledged by io-backend and sent again until it is (at least once):
//   an eventfd cannot lose a write, and neither may this.
import type { IoV1 } from '@splitvisor/proto';
import { RpcError } from '@splitvisor/rpc';
import type { Logger } from '@splitvisor/log';
import { PostedKind, type PostedRingReader } from './exit-channel/index.js';
import type { Doorbells, MmioPort } from './ports/index.js';

export interface PostedDeliveryOptions {
  vmId: string;
  vcpu: number;
  ring: PostedRingReader;
  /** Where coalesced writes go (the vCPU's MMIO port: in line with its exits). */
  mmio: Pick<MmioPort, 'post' | 'address'>;
  doorbells: Doorbells;
  deadlineMs: number;
  log: Logger;
  /** A delivery nobody waited for failed: the writes are lost, the VM cannot go on. */
  onFailure(reason: string): void;
}

export class PostedDelivery {
  private chain: Promise<unknown> = Promise.resolve();
  /** The answer to the last PostWrites sent. io-backend answers in order: once it is in,
   *  everything sent before it is applied too. */
  private lastPost: Promise<void> = Promise.resolve();
  private seq = 0;
  /** Why a delivery failed, once one has: every later one fails too. */
  failure: string | undefined;
  /** PostWrites calls made, doorbells published (for logs and tests). */
  readonly counts = { postWrites: 0, doorbells: 0, doorbellResends: 0 };

  constructor(private readonly o: PostedDeliveryOptions) {}

  /** Delivers everything posted so far and waits until io-backend applied it (the worker
   *  asked, or it parks or stops). Never rejects: a failure is reported through onFailure. */
  flush(): Promise<void> {
    return this.enqueue(() => this.deliver(false))
      .then(() => this.lastPost)
      .then(
        () => undefined,
        (e: unknown) => {
          const first = this.failure === undefined;
          this.failure ??= (e as Error).message;
          if (first) {
            this.o.log.error({ err: this.failure }, 'posted MMIO writes could not be delivered; the VM cannot go on');
            this.o.onFailure(this.failure);
          }
        },
      );
  }

  /** Before a synchronous exit: waits until the deliveries ahead are sent (not answered),
   *  delivers up to the last doorbell, and returns the coalesced writes after it, for the
   *  exit's own request. Rejects when they cannot be delivered (the exit fails). */
  beforeExit(): Promise<IoV1.PostedWrite[]> {
    return this.enqueue(() => this.deliver(true));
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const p = this.chain.then(work);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Takes the ring: sends its writes, each doorbell once those before it are applied.
   *  Resolves once everything is sent, with the trailing writes when `carry` (not sent). */
  private async deliver(carry: boolean): Promise<IoV1.PostedWrite[]> {
    if (this.failure !== undefined) throw new Error(this.failure);
    if (this.o.ring.pending === 0) return [];
    let run: IoV1.PostedWrite[] = [];
    for (const e of this.o.ring.take()) {
      if (e.kind === PostedKind.Doorbell) {
        if (run.length > 0) this.post(run);
        run = [];
        await this.lastPost;
        this.doorbell(e.addr, e.lo);
      } else {
        run.push({ addr: e.addr, size: e.size, valueLo: e.lo >>> 0, valueHi: e.hi >>> 0 });
      }
    }
    if (carry || run.length === 0) return run;
    this.post(run);
    return [];
  }

  /** Sends one PostWrites now, in line with the exits; its answer becomes lastPost. */
  private post(writes: IoV1.PostedWrite[]): void {
    this.counts.postWrites++;
    const answered = this.o.mmio.post(writes).catch((e: unknown) => {
      const err = e instanceof RpcError ? `${e.code}: ${e.message}` : String(e);
      throw new Error(`delivering ${writes.length} posted MMIO writes failed: io-backend at ${this.o.mmio.address} ${err}`);
    });
    // Whoever needs the answer awaits lastPost (a flush, a doorbell); a failure nobody is
    // waiting for yet is not an unhandled rejection.
    void answered.catch(() => undefined);
    this.lastPost = answered;
  }

  /**
   * Rings without waiting (the vCPU runs on, as after an ioeventfd write), but not into the
   * void: io-backend acknowledges each doorbell, and one it does not hear is sent again
   * until the exit deadline. A lost QueueNotify would leave a guest polling its used ring
   * for ever; a repeated one only makes the device look at a queue it already drained.
   */
  private doorbell(addr: number, value: number): void {
    this.counts.doorbells++;
    const msg = { vmId: this.o.vmId, vcpu: this.o.vcpu, addr, value: value >>> 0, seq: ++this.seq };
    this.o.doorbells.ring(msg, this.o.deadlineMs).then(
      (attempts) => {
        if (attempts > 1) this.counts.doorbellResends += attempts - 1;
      },
      (e: unknown) => {
        const why = `the doorbell at 0x${addr.toString(16)} (queue ${value >>> 0}) was never acknowledged: ${(e as Error).message}`;
        if (this.failure !== undefined) return;
        this.failure = why;
        this.o.log.error({ err: why }, 'virtio doorbell lost; the VM cannot go on');
        this.o.onFailure(why);
      },
    );
  }
}
