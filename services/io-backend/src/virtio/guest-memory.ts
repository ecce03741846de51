// A VM's RAM as a device backend sees it: every read and write is a DMA call to mmu, which
// holds the memory, checks that this caller was granted the VM (AttachDevice), and pulls
// back pages a vCPU holds Modified before it answers, so what a device reads is what the
// guest last wrote. The virtio library sees only GuestMemory and never knows it is remote.
import * as grpc from '@grpc/grpc-js';
import { GuestMemoryError, type GuestMemory } from '@splitvisor/virtio';
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
    try {
      const r = await this.mmu.call('DmaRead', { vmId: this.vmId, segments: [{ addr, length }] }, { metadata: this.metadata.clone(), deadlineMs: this.deadlineMs });
      const data = r.data[0];
      if (!data || data.length !== length) throw new Error(`mmu answered ${data?.length ?? 0} bytes for a ${length}-byte DMA read at ${hex(addr)}`);
      this.stats.reads++;
      this.stats.bytesRead += length;
      return data;
    } catch (e) {
      throw this.failed(e, addr, length);
    }
  }

  async write(addr: number, data: Uint8Array): Promise<void> {
    try {
      await this.mmu.call('DmaWrite', { vmId: this.vmId, segments: [{ addr, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) }] }, { metadata: this.metadata.clone(), deadlineMs: this.deadlineMs });
      this.stats.writes++;
      this.stats.bytesWritten += data.length;
    } catch (e) {
      throw this.failed(e, addr, data.length);
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
