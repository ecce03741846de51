// What dom0's lifecycle logic asks of the data plane, shaped for its use (STYLE.md 6):
// the VM's memory at mmu, the VM's devices at io-backend, the cpu nodes that run its
// vCPUs. backends.ts adapts each one over gRPC (and the xenbus handshake); the controller's
// spec gives them in memory. A refusal is an RpcError whose code the controller reads
// (UNAVAILABLE: try another node or later; NOT_FOUND: already gone).
import type { CpuV1, IoV1, MmuV1 } from '@splitvisor/proto';
import type { VmMode } from '@splitvisor/platform';
import type { ImageSegment } from './guest-image.js';
import type { DeviceSpec } from './xenbus.js';

/** The VM's guest RAM at mmu. */
export interface VmMemoryPort {
  /** Empty RAM [ramBase, ramBase + ramSize) for the VM, reserved whole in mmu's pool
   *  (RESOURCE_EXHAUSTED when it does not fit). With `replace`, the VM's memory held now is
   *  given up in the same step and its reservation counts for the new one (a reboot). */
  create(vmId: string, ramBase: number, ramSize: number, opts?: { replace?: boolean }): Promise<void>;
  /** Writes the segments into the VM's RAM; the bytes written. */
  load(vmId: string, segments: readonly ImageSegment[]): Promise<number>;
  /** Lets device backend `backend` DMA into the VM's RAM (mmu refuses any other). */
  allowDma(vmId: string, backend: string): Promise<void>;
  release(vmId: string): Promise<void>;
  stats(vmId: string): Promise<MmuV1.MemStats__Output>;
}

/** The VM's devices at io-backend. */
export interface VmDevicesPort {
  /** Every device up on both ends; all or nothing is the caller's (disconnect undoes). */
  connect(vmId: string, devices: readonly (string | DeviceSpec)[]): Promise<void>;
  /** Every device flushed and closed, and the VM forgotten by io-backend. */
  disconnect(vmId: string): Promise<void>;
  stats(vmId: string): Promise<IoV1.DeviceStats__Output>;
}

/** What a cpu node needs to run a VM's vCPUs. */
export interface VcpuStart {
  vmId: string;
  ramBase: number;
  ramSize: number;
  entry: number;
  /** a1 at reset. */
  dtbAddr: number;
  vcpus: number;
  /** How the guest kernel runs (the cpu refuses a mode it has no monitor for). */
  mode: VmMode;
  /** The hart has the H extension (config `cpu: { h: true }`). */
  h: boolean;
}

/** One cpu node. */
export interface CpuNodePort {
  /** Starts the vCPUs; with `waitReadyMs`, first waits that long for the node to be
   *  reachable (one that just restarted may still be reconnecting). */
  start(req: VcpuStart, waitReadyMs?: number): Promise<void>;
  /** Parks the vCPUs at a safepoint. */
  pause(vmId: string): Promise<void>;
  resume(vmId: string): Promise<void>;
  /** Stops the vCPUs (their pages go back to mmu) within `deadlineMs`. */
  stop(vmId: string, reason: string, deadlineMs: number): Promise<void>;
  stats(vmId: string): Promise<CpuV1.VmStats__Output>;
}

export interface CpuNodes {
  /** Every live node, in placement's tie-break order. */
  readonly names: readonly string[];
  /** The node (the first one when undefined); one this dom0 was not told of is UNAVAILABLE. */
  node(name: string | undefined): CpuNodePort;
  /** Whether dom0 knows the node, live or gone (one the registry named once). */
  known?(name: string): boolean;
}

/** Everything dom0 drives. */
export interface DataPlane {
  memory: VmMemoryPort;
  devices: VmDevicesPort;
  cpus: CpuNodes;
}
