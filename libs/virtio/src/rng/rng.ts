// virtio-rng, the entropy device (virtio 1.2 §5.4): one queue of device-writable buffers,
// each filled with bytes from the host's CSPRNG (node:crypto randomFill) and given back.
import { randomFill, randomFillSync } from 'node:crypto';
import { DEVICE_ID } from '../constants.js';
import type { VirtioContext, VirtioDevice } from '../device.js';
import { QueueRunners } from '../queue/runner.js';
import { writeSegments } from '../queue/segments.js';
import type { DescriptorChain } from '../queue/split-queue.js';

const SYNC_FILL_BYTES = 4096;

export interface VirtioRngOptions {
  /** Default "rng0". */
  name?: string;
  /** Bytes given per request at most (default 64 KiB): a guest cannot make one request pin the host. */
  maxBytesPerRequest?: number;
  /** QueueNumMax (default 256). */
  queueSize?: number;
}

export interface RngStats {
  requests: number;
  bytes: number;
  failedRequests: number;
}

export class VirtioRng implements VirtioDevice {
  readonly name: string;
  readonly deviceId = DEVICE_ID.ENTROPY;
  readonly queueMaxSizes: readonly number[];
  readonly features = 0n;
  /** No header, no config space: nothing VERSION_1 changes. */
  readonly servesDriverWithoutVersion1 = true;
  readonly configSize = 0;
  private readonly scratch: Uint8Array;
  private readonly counters = { requests: 0, bytes: 0 };
  private runners: QueueRunners | undefined;
  private failedBefore = 0;

  constructor(opts: VirtioRngOptions = {}) {
    this.name = opts.name ?? 'rng0';
    this.queueMaxSizes = [opts.queueSize ?? 256];
    // One buffer reused by every request: the queue's runner serves one chain at a time.
    this.scratch = new Uint8Array(opts.maxBytesPerRequest ?? 64 * 1024);
  }

  readConfig(): number {
    return 0; // §5.4.4: no config space (the transport never calls this: configSize is 0)
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): string | undefined {
    return `${this.name} has no config space (${size}-byte write of ${value} at ${offset})`;
  }

  activate(ctx: VirtioContext): void {
    this.runners?.stop();
    this.runners = new QueueRunners(ctx, () => (chain) => this.serve(ctx, chain));
  }

  notify(queue: number): void {
    void this.runners?.kick(queue);
  }

  reset(): void {
    if (this.runners) this.failedBefore += this.runners.failedRequests;
    this.runners?.stop();
    this.runners = undefined;
  }

  /** Resolves when no request is being served (for tests and orderly shutdown). */
  idle(): Promise<void> {
    return this.runners?.idle() ?? Promise.resolve();
  }

  stats(): Record<string, number> & RngStats {
    return { ...this.counters, failedRequests: this.failedBefore + (this.runners?.failedRequests ?? 0) };
  }

  private async serve(ctx: VirtioContext, chain: DescriptorChain): Promise<number> {
    this.counters.requests++;
    // Readable descriptors carry nothing for this device; they are ignored.
    const n = Math.min(chain.writableBytes, this.scratch.length);
    if (n === 0) return 0;
    const buf = this.scratch.subarray(0, n);
    // Small requests (what Linux's hwrng and U-Boot ask for) are filled in place: a trip to
    // the libuv pool costs more than the bytes.
    if (n <= SYNC_FILL_BYTES) randomFillSync(buf);
    else await new Promise<void>((resolve, reject) => randomFill(buf, (err) => (err ? reject(err) : resolve())));
    const written = await writeSegments(ctx.mem, chain.writable, buf);
    this.counters.bytes += written;
    return written;
  }
}
