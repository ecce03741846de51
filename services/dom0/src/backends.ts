// dom0's clients of the other services' admin APIs (dom0 is the only caller of these),
// and the one adapter per port of ports.ts over them.
import * as grpc from '@grpc/grpc-js';
import { protos, type CpuV1, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, deadlineIn, unavailable } from '@splitvisor/rpc';
import type { ImageSegment } from './guest-image.js';
import type { CpuNodePort, CpuNodes, DataPlane, VcpuStart, VmDevicesPort, VmMemoryPort } from './ports.js';
import type { DeviceHandshake, DeviceSpec } from './xenbus.js';

export interface Backends {
  /** One client per cpu node, by its address (the node's name in placement and `list`). */
  cpus: Map<string, RpcClient<CpuV1.CpuClient>>;
  mmu: RpcClient<MmuV1.MmuClient>;
  io: RpcClient<IoV1.IoBackendClient>;
}

/** A client of one cpu node (a static one, or one the node registry names). */
export function cpuClient(addr: string, deadlineMs = 5000): RpcClient<CpuV1.CpuClient> {
  return new RpcClient<CpuV1.CpuClient>(protos().cpu.Cpu, addr, { deadlineMs, server: 'cpu' });
}

export function connectBackends(addr: { cpus: readonly string[]; mmu: string; io: string }, deadlineMs = 5000): Backends {
  const p = protos();
  return {
    cpus: new Map(addr.cpus.map((a) => [a, cpuClient(a, deadlineMs)])),
    mmu: new RpcClient<MmuV1.MmuClient>(p.mmu.Mmu, addr.mmu, { deadlineMs, server: 'mmu' }),
    io: new RpcClient<IoV1.IoBackendClient>(p.io.IoBackend, addr.io, { deadlineMs, server: 'io-backend' }),
  };
}

export function closeBackends(b: Backends): void {
  for (const c of b.cpus.values()) c.close();
  b.mmu.close();
  b.io.close();
}

/** How long a stats question may take: `top` and reconciliation ask them in bulk. */
const STATS_DEADLINE_MS = 3000;
const CHUNK = 256 * 1024;

/** Streams image segments into guest RAM through mmu's LoadImage, in 256 KiB chunks. */
function loadImage(mmu: RpcClient<MmuV1.MmuClient>, vmId: string, segments: readonly ImageSegment[], deadlineMs = 60_000): Promise<number> {
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

class GrpcMemory implements VmMemoryPort {
  constructor(private readonly mmu: RpcClient<MmuV1.MmuClient>) {}
  async create(vmId: string, ramBase: number, ramSize: number, opts: { replace?: boolean } = {}): Promise<void> {
    await this.mmu.call('CreateVm', { vmId, ramBase, ramSize, replace: opts.replace ?? false });
  }
  load(vmId: string, segments: readonly ImageSegment[]): Promise<number> {
    return loadImage(this.mmu, vmId, segments);
  }
  async allowDma(vmId: string, backend: string): Promise<void> {
    await this.mmu.call('AttachDevice', { vmId, backend });
  }
  async release(vmId: string): Promise<void> {
    await this.mmu.call('ReleaseVm', { vmId });
  }
  stats(vmId: string): Promise<MmuV1.MemStats__Output> {
    return this.mmu.call('GetVmStats', { vmId }, { deadlineMs: STATS_DEADLINE_MS });
  }
}

/** Devices come and go through the xenbus handshake; io-backend's API is the fallback
 *  when it did not take part, and the source of the numbers. */
class IoDevices implements VmDevicesPort {
  constructor(
    private readonly io: RpcClient<IoV1.IoBackendClient>,
    private readonly handshake: DeviceHandshake,
  ) {}
  connect(vmId: string, devices: readonly (string | DeviceSpec)[]): Promise<void> {
    return this.handshake.connect(vmId, devices);
  }
  async disconnect(vmId: string): Promise<void> {
    if (await this.handshake.disconnect(vmId)) return;
    await this.io.call('DetachVm', { vmId }, { deadlineMs: 2000 }).catch((e: unknown) => {
      if (!(e instanceof RpcError && (e.code === 'NOT_FOUND' || e.code === 'UNAVAILABLE'))) throw e;
    });
  }
  stats(vmId: string): Promise<IoV1.DeviceStats__Output> {
    return this.io.call('GetVmStats', { vmId }, { deadlineMs: STATS_DEADLINE_MS });
  }
}

class GrpcCpuNode implements CpuNodePort {
  constructor(private readonly cpu: RpcClient<CpuV1.CpuClient>) {}
  async start(req: VcpuStart, waitReadyMs?: number): Promise<void> {
    if (waitReadyMs !== undefined) await this.cpu.waitForReady(waitReadyMs);
    await this.cpu.call('StartVm', req);
  }
  async pause(vmId: string): Promise<void> {
    await this.cpu.call('PauseVm', { vmId }, { deadlineMs: 10_000 });
  }
  async resume(vmId: string): Promise<void> {
    await this.cpu.call('ResumeVm', { vmId }, { deadlineMs: 10_000 });
  }
  async stop(vmId: string, reason: string, deadlineMs: number): Promise<void> {
    await this.cpu.call('StopVm', { vmId, reason }, { deadlineMs });
  }
  stats(vmId: string): Promise<CpuV1.VmStats__Output> {
    return this.cpu.call('GetVmStats', { vmId }, { deadlineMs: STATS_DEADLINE_MS });
  }
}

/** The cpu nodes as `live` names them (all of `clients` when not given). `clients` grows as
 *  nodes are found and keeps the ones gone: a VM recorded there is still asked about. */
class GrpcCpuNodes implements CpuNodes {
  constructor(
    private readonly clients: Map<string, RpcClient<CpuV1.CpuClient>>,
    private readonly live: () => readonly string[] = () => [...clients.keys()],
  ) {}
  get names(): string[] {
    return [...this.live()];
  }
  known(name: string): boolean {
    return this.clients.has(name);
  }
  node(name: string | undefined): CpuNodePort {
    const c = this.clients.get(name ?? this.names[0] ?? '');
    if (!c) throw unavailable(`cpu node ${name ?? '(none)'} is not one of this dom0's nodes (${this.names.join(', ') || 'none'})`);
    return new GrpcCpuNode(c);
  }
}

/** The data plane over gRPC clients and the xenbus handshake; `liveCpus` says which cpu
 *  nodes placement may use now (node-table.ts). */
export function grpcDataPlane(b: Backends, handshake: DeviceHandshake, liveCpus?: () => readonly string[]): DataPlane {
  return { memory: new GrpcMemory(b.mmu), devices: new IoDevices(b.io, handshake), cpus: new GrpcCpuNodes(b.cpus, liveCpus) };
}
