// dom0's clients of the other services' admin APIs. dom0 is the only caller of these.
import * as grpc from '@grpc/grpc-js';
import { protos, type CpuV1, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, deadlineIn } from '@splitvisor/rpc';
import type { ImageSegment } from './guest-image.js';

export interface Backends {
  cpu: RpcClient<CpuV1.CpuClient>;
  mmu: RpcClient<MmuV1.MmuClient>;
  io: RpcClient<IoV1.IoBackendClient>;
}

export function connectBackends(addr: { cpu: string; mmu: string; io: string }, deadlineMs = 5000): Backends {
  const p = protos();
  return {
    cpu: new RpcClient<CpuV1.CpuClient>(p.cpu.Cpu, addr.cpu, { deadlineMs }),
    mmu: new RpcClient<MmuV1.MmuClient>(p.mmu.Mmu, addr.mmu, { deadlineMs }),
    io: new RpcClient<IoV1.IoBackendClient>(p.io.IoBackend, addr.io, { deadlineMs }),
  };
}

export function closeBackends(b: Backends): void {
  b.cpu.close();
  b.mmu.close();
  b.io.close();
}

const CHUNK = 256 * 1024;

/** Streams image segments into guest RAM through mmu's LoadImage, in 256 KiB chunks. */
export function loadImage(mmu: RpcClient<MmuV1.MmuClient>, vmId: string, segments: ImageSegment[], deadlineMs = 60_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = mmu.raw.LoadImage(new grpc.Metadata(), { deadline: deadlineIn(deadlineMs) }, (err, res) => {
      if (err) reject(RpcError.fromGrpc(err, `${mmu.address} LoadImage`));
      else resolve(res!.bytesLoaded);
    });
    let first = true;
    for (const s of segments) {
      for (let off = 0; off < s.data.length; off += CHUNK) {
        call.write({ vmId: first ? vmId : '', addr: s.addr + off, data: s.data.subarray(off, off + CHUNK) });
        first = false;
      }
    }
    call.end();
  });
}
