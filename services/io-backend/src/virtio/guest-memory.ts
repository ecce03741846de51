// A VM's RAM as a device backend sees it: every read and write is a DMA call to mmu, which
// holds the memory, checks that this caller was granted the VM (AttachDevice), and pulls
// back pages a vCPU holds Modified before it answers, so what a device reads is what the
// guest last wrote. The virtio library sees only GuestMemory and never knows it is remote.
import * as grpc from '@grpc/grpc-js';
import { GuestMemoryError, type GuestMemory, type GuestRange, type GuestWrite } from '@splitvisor/virtio';
import type { MmuV1 } from '@splitvisor/proto';
import { hex } from '@splitvisor/platform';
import { CALLER_KEY, RpcError, type RpcClient } from '@splitvisor/rpc';

export interface DmaCounters {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  failures: number;
}

export class MmuGuestMemory implements GuestMemory {
  readonly stats: DmaCounters = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, failures: 0 };
  private readonly metadata = new grpc.Metadata();

  constructor(
    private readonly mmu: RpcClient<MmuV1.MmuClient>,
    private readonly vmId: string,
    caller: string,
    private readonly deadlineMs = 5000,
  ) {
    this.metadata.set(CALLER_KEY, caller);
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
    try {
      const r = await this.mmu.call(
        'DmaRead',
        { vmId: this.vmId, segments: ranges.map((s) => ({ addr: s.addr, length: s.len })) },
        { metadata: this.metadata.clone(), deadlineMs: this.deadlineMs },
      );
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
    try {
      const segments = writes.map((w) => ({ addr: w.addr, data: Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength) }));
      await this.mmu.call('DmaWrite', { vmId: this.vmId, segments }, { metadata: this.metadata.clone(), deadlineMs: this.deadlineMs });
      this.stats.writes++;
      for (const w of writes) this.stats.bytesWritten += w.data.length;
    } catch (e) {
      throw this.failed(e, writes[0]!.addr, writes[0]!.data.length);
    }
  }

  /**
   * mmu's INVALID_ARGUMENT for a DMA is a range outside the VM's RAM: the guest's doing, so
   * it becomes a GuestMemoryError (the queue then treats the ring as broken). Anything else
   * (mmu gone, a deadline, a refused grant) is ours and stays what it is.
   */
  private failed(e: unknown, addr: number, length: number): Error {
    this.stats.failures++;
    if (e instanceof RpcError && e.code === 'INVALID_ARGUMENT') return new GuestMemoryError(addr, length, e.message);
    return e as Error;
  }
}
