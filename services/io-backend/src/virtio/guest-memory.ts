// A VM's RAM as a device backend sees it: every read and write is a DMA call to mmu (on the
// VM's DMA stream, dma-stream.ts), which holds the memory, checks that this caller was
// granted the VM (AttachDevice), and pulls back pages a vCPU holds Modified before it
// answers, so what a device reads is what the guest last wrote. The virtio library sees only GuestMemory and never knows it is remote.
//
// A call that did not get its answer (our deadline, mmu waiting on a recall from a busy
// vCPU, mmu restarting) is not the guest's fault and is asked again, for up to retryForMs:
// the library would otherwise take it for a broken ring and set DEVICE_NEEDS_RESET, which
// Linux's virtio_blk never recovers from (its requests hang in D state for good). A write
// is sent again under the same write id, and mmu applies an id at most once.
import * as grpc from '@grpc/grpc-js';
import { GuestMemoryError, type GuestMemory, type GuestRange, type GuestWrite } from '@splitvisor/virtio';
import type { MmuV1 } from '@splitvisor/proto';
import { hex } from '@splitvisor/platform';
import { CALLER_KEY, RpcError, type RpcClient } from '@splitvisor/rpc';
import { DmaStream } from './dma-stream.js';

export interface DmaCounters {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  /** Calls that failed for good (after their retries), or were refused. */
  failures: number;
  /** Attempts that did not get an answer and were made again. */
  retries: number;
}

export interface MmuGuestMemoryOptions {
  /** Deadline of one attempt (default 5000). */
  deadlineMs?: number;
  /** How long a call keeps asking again after attempts that got no answer (default 60000). */
  retryForMs?: number;
  /** Told of each attempt made again (for a warning). */
  onRetry?: (what: string, attempt: number, err: RpcError) => void;
}

/** Codes that say an attempt got no answer, not that mmu refused the DMA. */
const NO_ANSWER = new Set(['DEADLINE_EXCEEDED', 'UNAVAILABLE']);

export class MmuGuestMemory implements GuestMemory {
  readonly stats: DmaCounters = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, failures: 0, retries: 0 };
  private readonly metadata = new grpc.Metadata();
  private readonly retryForMs: number;
  /** Every DmaRead and DmaWrite of this VM, on one stream (dma-stream.ts). */
  private readonly dma: DmaStream;
  /** Write ids: from a random start, so an io-backend that restarted does not reuse the
   *  ids of its predecessor's writes that mmu still remembers. */
  private nextWriteId = 1 + Math.floor(Math.random() * 2 ** 48);

  constructor(
    mmu: RpcClient<MmuV1.MmuClient>,
    private readonly vmId: string,
    caller: string,
    private readonly opts: MmuGuestMemoryOptions = {},
  ) {
    this.metadata.set(CALLER_KEY, caller);
    this.retryForMs = opts.retryForMs ?? 60_000;
    this.dma = new DmaStream(mmu, this.metadata, opts.deadlineMs ?? 5000);
  }

  /** The VM is detached: its DMA stream ends. */
  close(): void {
    this.dma.close();
  }

  async read(addr: number, length: number): Promise<Uint8Array> {
    return (await this.readv([{ addr, len: length }]))[0]!;
  }

  async write(addr: number, data: Uint8Array): Promise<void> {
    await this.writev([{ addr, data }]);
  }

  /** One DmaRead for every range. */
  async readv(ranges: readonly GuestRange[]): Promise<Uint8Array[]> {
    if (ranges.length === 0) return [];
    const what = `DMA read at ${hex(ranges[0]!.addr)}`;
    try {
      const segments = ranges.map((s) => ({ addr: s.addr, length: s.len }));
      const r = await this.persist(what, () => this.dma.read({ vmId: this.vmId, segments }));
      ranges.forEach((s, i) => {
        const got = r.data[i]?.length ?? 0;
        if (got !== s.len) throw new Error(`mmu answered ${got} bytes for a ${s.len}-byte DMA read at ${hex(s.addr)}`);
      });
      this.stats.reads++;
      for (const s of ranges) this.stats.bytesRead += s.len;
      return r.data;
    } catch (e) {
      throw this.failed(e, ranges[0]!.addr, ranges[0]!.len);
    }
  }

  /** One DmaWrite for every range: mmu checks them all, then applies them in order under
   *  the VM's lock (vm-memory.ts), which is the ordering GuestMemory.writev promises. */
  async writev(writes: readonly GuestWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const what = `DMA write at ${hex(writes[0]!.addr)}`;
    try {
      const segments = writes.map((w) => ({ addr: w.addr, data: Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength) }));
      const writeId = this.nextWriteId++;
      await this.persist(what, () => this.dma.write({ vmId: this.vmId, segments, writeId }));
      this.stats.writes++;
      for (const w of writes) this.stats.bytesWritten += w.data.length;
    } catch (e) {
      throw this.failed(e, writes[0]!.addr, writes[0]!.data.length);
    }
  }

  /** Makes the attempt again while attempts get no answer, for up to retryForMs. */
  private async persist<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    const start = Date.now();
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        const elapsed = Date.now() - start;
        if (!(e instanceof RpcError) || !NO_ANSWER.has(e.code)) throw e;
        if (elapsed >= this.retryForMs) {
          throw new RpcError(e.code, `${what} of vm "${this.vmId}": no answer from mmu in ${n} attempts over ${elapsed} ms; last: ${e.message}`, e.peer);
        }
        this.stats.retries++;
        this.opts.onRetry?.(what, n, e);
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(n - 1, 5))));
      }
    }
  }

  /**
   * mmu's INVALID_ARGUMENT for a DMA is a range outside the VM's RAM: the guest's doing, so
   * it becomes a GuestMemoryError (the queue then treats the ring as broken). Anything else
   * (mmu gone past the retries, a refused grant) is ours and stays what it is.
   */
  private failed(e: unknown, addr: number, length: number): Error {
    this.stats.failures++;
    if (e instanceof RpcError && e.code === 'INVALID_ARGUMENT') return new GuestMemoryError(addr, length, e.message);
    return e as Error;
  }
}
