// dom0's clients of the other services' admin APIs. dom0 is the only caller of these.
import * as grpc from '@grpc/grpc-js';
import { protos, type CpuV1, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, deadlineIn, unavailable } from '@splitvisor/rpc';
import type { ImageSegment } from './guest-image.js';

export interface Backends {
  /** One client per cpu node, by its address (the node's name in placement and `list`). */
  cpus: Map<string, RpcClient<CpuV1.CpuClient>>;
  mmu: RpcClient<MmuV1.MmuClient>;
  io: RpcClient<IoV1.IoBackendClient>;
}

export function connectBackends(addr: { cpus: readonly string[]; mmu: string; io: string }, deadlineMs = 5000): Backends {
  const p = protos();
  return {
    cpus: new Map(addr.cpus.map((a) => [a, new RpcClient<CpuV1.CpuClient>(p.cpu.Cpu, a, { deadlineMs })])),
    mmu: new RpcClient<MmuV1.MmuClient>(p.mmu.Mmu, addr.mmu, { deadlineMs }),
    io: new RpcClient<IoV1.IoBackendClient>(p.io.IoBackend, addr.io, { deadlineMs }),
  };
}

export function closeBackends(b: Backends): void {
  for (const c of b.cpus.values()) c.close();
  b.mmu.close();
  b.io.close();
}

/** The client of one cpu node; a node dom0 was not told about is UNAVAILABLE. */
export function cpuOf(b: Backends, node: string | undefined): RpcClient<CpuV1.CpuClient> {
  const c = node === undefined ? b.cpus.values().next().value : b.cpus.get(node);
  if (!c) throw unavailable(`cpu node ${node ?? '(none)'} is not one of this dom0's nodes (${[...b.cpus.keys()].join(', ')})`);
  return c;
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
