// One queue's service loop: a doorbell kicks it, it pops, hands each chain to the device's
// handler, gives it back and interrupts when the driver wants it. Drains of one queue never
// overlap: a kick during a drain makes that drain look again before it ends.
import { GuestMemoryError, type GuestWrite } from '../memory.js';
import { QueueError } from './queue-error.js';
import type { VirtioContext } from '../device.js';
import type { DescriptorChain, SplitQueue } from './split-queue.js';

/** A served chain: the bytes written into its writable part, and writes into it the
 *  device left for the completion (they go with the used element, in one memory call). */
export interface Completion {
  written: number;
  data: GuestWrite[];
}

export type ChainHandler = (chain: DescriptorChain) => Promise<number | Completion>;

export interface QueueRunnerOptions {
  /** Serves one chain; resolves with the bytes written into its writable part (or a
   *  Completion). A throw that is not a QueueError fails that request only (it is given
   *  back with 0 bytes written). */
  handler: ChainHandler;
  /** Used entries were pushed: the device's VirtioContext.signalUsed for this queue. */
  signal: () => Promise<void>;
  /** The ring is broken (QueueError, or the ring itself unreachable): the device's needsReset. */
  onFatal: (reason: string) => void;
  onRequestError?: (err: unknown, chain: DescriptorChain) => void;
  /** Signal after this many completions even mid-drain (default 32), so long drains do not starve the driver. */
  signalEvery?: number;
}

export interface QueueRunnerStats {
  drains: number;
  chains: number;
  requestErrors: number;
}

export class QueueRunner {
  readonly stats: QueueRunnerStats = { drains: 0, chains: 0, requestErrors: 0 };
  private current: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly signalEvery: number;

  constructor(
    readonly queue: SplitQueue,
    private readonly opts: QueueRunnerOptions,
  ) {
    this.signalEvery = Math.max(1, opts.signalEvery ?? 32);
  }

  /** A doorbell. Resolves when a drain that started after this kick has found the queue empty. */
  kick(): Promise<void> {
    if (this.stopped) return this.current ?? Promise.resolve();
    if (this.current) {
      this.again = true;
      return this.current;
    }
    const run = this.drain().finally(() => {
      this.current = undefined;
    });
    this.current = run;
    return run;
  }

  /** Resolves when no drain is running. */
  idle(): Promise<void> {
    return this.current ?? Promise.resolve();
  }

  get draining(): boolean {
    return this.current !== undefined;
  }

  /** No more drains; the queue is killed (in-flight chains are dropped). */
  stop(): void {
    this.stopped = true;
    this.queue.kill();
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      this.stats.drains++;
      await this.drainOnce();
    } while (this.again && !this.stopped);
  }

  private async drainOnce(): Promise<void> {
    let unsignalled = 0;
    try {
      for (;;) {
        if (this.stopped) return;
        const chain = await this.queue.pop();
        if (!chain) break;
        let written = 0;
        let data: GuestWrite[] = [];
        try {
          const r = await this.opts.handler(chain);
          if (typeof r === 'number') written = r;
          else ({ written, data } = r);
        } catch (e) {
          if (e instanceof QueueError || e instanceof GuestMemoryError) {
            throw new QueueError(`${this.queue.name}: chain at head ${chain.head}: ${e.message}`);
          }
          this.stats.requestErrors++;
          this.opts.onRequestError?.(e, chain);
        }
        // The device cannot have written more than the chain offers, whatever a handler says.
        written = Math.max(0, Math.min(Math.floor(written) || 0, chain.writableBytes));
        await this.queue.pushUsed(chain.head, written, data);
        this.stats.chains++;
        if (++unsignalled >= this.signalEvery) {
          unsignalled = 0;
          await this.opts.signal();
        }
      }
      if (unsignalled > 0) await this.opts.signal();
    } catch (e) {
      this.stop();
      this.opts.onFatal(e instanceof Error ? e.message : String(e));
    }
  }
}

/**
 * The runners of one activated device, one per queue, made on first kick. A queue the
 * driver re-made (QueueReady 0 then 1) gets a new runner; the old one is stopped.
 */
export class QueueRunners {
  private readonly runners: (QueueRunner | undefined)[] = [];
  private readonly requestErrors: { count: number } = { count: 0 };

  constructor(
    private readonly ctx: VirtioContext,
    private readonly handlerFor: (queue: number) => ChainHandler,
    private readonly opts: { onRequestError?: (err: unknown, chain: DescriptorChain, queue: number) => void; signalEvery?: number } = {},
  ) {}

  kick(q: number): Promise<void> {
    const queue = this.ctx.queues[q];
    if (!queue || queue.isKilled) return Promise.resolve();
    let r = this.runners[q];
    if (!r || r.queue !== queue) {
      r?.stop();
      r = new QueueRunner(queue, {
        handler: this.handlerFor(q),
        signal: () => this.ctx.signalUsed(q),
        onFatal: (reason) => this.ctx.needsReset(reason),
        onRequestError: (err, chain) => {
          this.requestErrors.count++;
          this.opts.onRequestError?.(err, chain, q);
        },
        ...(this.opts.signalEvery !== undefined ? { signalEvery: this.opts.signalEvery } : {}),
      });
      this.runners[q] = r;
    }
    return r.kick();
  }

  /** Resolves when no queue is draining. */
  async idle(): Promise<void> {
    for (const r of this.runners) await r?.idle();
  }

  stop(): void {
    for (const r of this.runners) r?.stop();
  }

  /** Requests failed by a handler's throw (not ring errors). */
  get failedRequests(): number {
    return this.requestErrors.count;
  }
}
