// One VM's numbers from the three services that hold a part of it, side by side: the
// exit table by reason (cpu, as `perf kvm stat`), memory (mmu), device activity
// (io-backend). A part that cannot be read is a note, not an error: `top` keeps going.
import type { CpuV1, Dom0V1, IoV1, MmuV1 } from '@splitvisor/proto';
import { PAGE_SIZE } from '@splitvisor/platform';
import { RpcError } from '@splitvisor/rpc';
import type { DataPlane } from './ports.js';
import { isFinal, vcpuMayRun, type VmRecord } from './vm-state.js';

export function cpuStats(s: CpuV1.VmStats__Output): Dom0V1.CpuStats {
  return {
    instret: s.instret,
    runSeconds: s.runSeconds,
    exits: s.exits.map((e) => ({ reason: e.reason, count: e.count, totalMs: e.totalMs })),
    paused: s.paused,
    mmioSamples: s.mmioLatency?.samples ?? 0,
    mmioP50Us: s.mmioLatency?.p50Us ?? 0,
    mmioP99Us: s.mmioLatency?.p99Us ?? 0,
    devices: s.devices.map((d) => ({ device: d.device, reads: d.reads, writes: d.writes, totalMs: d.totalMs, posted: d.posted, shadowed: d.shadowed })),
    mode: s.mode,
  };
}

export function memoryStats(s: MmuV1.MemStats__Output): Dom0V1.MemoryStats {
  return {
    residentBytes: s.residentPages * PAGE_SIZE,
    limitBytes: s.limitPages * PAGE_SIZE,
    firstTouchFaults: s.firstTouchFaults,
    fetches: s.fetches,
    writeBacks: s.writeBacks,
  };
}

export function deviceStats(s: IoV1.DeviceStats__Output): Dom0V1.DeviceStats {
  return {
    devices: s.devices.map((d) => ({ device: d.device, reads: d.reads, writes: d.writes })),
    ioOps: s.devices.reduce((n, d) => n + d.reads + d.writes, 0),
    consoleBytesOut: s.consoleBytesOut,
    consoleBytesIn: s.consoleBytesIn,
    irqsRaised: s.irqsRaised,
    irqLinesHigh: s.irqLinesHigh,
    unmapped: s.unmapped,
    badAccess: s.badAccess,
    virtio: s.virtio,
    ...(s.dma && { dma: s.dma }),
  };
}

export async function collectStats(plane: DataPlane, r: VmRecord): Promise<Dom0V1.VmStats> {
  const notes: string[] = [];
  const note =
    (who: string) =>
    (e: unknown): undefined => {
      notes.push(`${who}: ${e instanceof RpcError ? `${e.code} ${e.message}` : String(e)}`);
      return undefined;
    };
  const holds = !isFinal(r.state);
  const [c, m, d] = await Promise.all([
    vcpuMayRun(r.state)
      ? Promise.resolve()
          .then(() => plane.cpus.node(r.node).stats(r.name))
          .catch(note(`cpu ${r.node ?? ''}`.trim()))
      : undefined,
    holds ? plane.memory.stats(r.name).catch(note('mmu')) : undefined,
    holds ? plane.devices.stats(r.name).catch(note('io-backend')) : undefined,
  ]);
  return {
    name: r.name,
    state: r.state,
    node: r.node ?? '',
    at: Date.now(),
    ...(c && { cpu: cpuStats(c) }),
    ...(m && { memory: memoryStats(m) }),
    ...(d && { devices: deviceStats(d) }),
    notes,
  };
}
