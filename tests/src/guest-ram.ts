// A running VM's guest RAM as mmu holds it, read the way a device reads it: by DMA, as a
// registered reader (FetchPages is the vCPU cache's protocol, not a way to peek).
import * as grpc from '@grpc/grpc-js';
import { protos, type MmuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';

export class GuestRam {
  private readonly mmu: RpcClient<MmuV1.MmuClient>;
  private readonly attached = new Set<string>();

  /** `reader` names the backend mmu records as the DMA caller. */
  constructor(
    mmuAddress: string,
    private readonly reader: string,
  ) {
    this.mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, mmuAddress);
  }

  /** `len` bytes at guest-physical `addr` of `vmId`. */
  async read(vmId: string, addr: number, len: number): Promise<Buffer> {
    if (!this.attached.has(vmId)) {
      await this.mmu.call('AttachDevice', { vmId, backend: this.reader });
      this.attached.add(vmId);
    }
    const md = new grpc.Metadata();
    md.set('x-splitvisor-caller', this.reader);
    const r = await this.mmu.call('DmaRead', { vmId, segments: [{ addr, length: len }] }, { metadata: md });
    return Buffer.from(r.data[0]!);
  }

  close(): void {
    this.mmu.close();
  }
}
