// The VM state machine: named states and the transitions allowed between them. An illegal
// request is refused with a message that names the state (FAILED_PRECONDITION).
import type { Dom0V1 } from '@splitvisor/proto';
import { failedPrecondition } from '@splitvisor/rpc';
import type { Engine, VmMode } from '@splitvisor/platform';
import type { Policy } from './vm-config.js';

/**
 * created: memory allocated, images loaded, devices attached; no vCPU yet.
 * running / paused: a vCPU exists on `node` (paused: parked at a safepoint).
 * stopping / rebooting: dom0 is taking it down (and, rebooting, bringing it back).
 * stopped / failed: nothing is held any more; `start` reloads the images.
 * preserved: the vCPU stopped (policy preserve) but memory and devices are kept.
 * destroyed: forgotten (only ever seen in the answer to DestroyVm).
 */
export type VmState = 'created' | 'running' | 'paused' | 'stopping' | 'rebooting' | 'stopped' | 'failed' | 'preserved' | 'destroyed';

export type VmAction = 'start' | 'pause' | 'resume' | 'shutdown' | 'reboot' | 'destroy' | 'replace';

const ALLOWED: Record<VmAction, readonly VmState[]> = {
  start: ['created', 'stopped', 'failed'],
  pause: ['running'],
  resume: ['paused'],
  shutdown: ['running', 'paused'],
  reboot: ['running', 'paused'],
  destroy: ['created', 'running', 'paused', 'stopping', 'rebooting', 'stopped', 'failed', 'preserved'],
  /** A new VM of the same name may take over a record whose resources are already free. */
  replace: ['stopped', 'failed', 'destroyed'],
};

export function canDo(state: VmState, action: VmAction): boolean {
  return ALLOWED[action].includes(state);
}

export function requireState(name: string, state: VmState, action: VmAction): void {
  if (!canDo(state, action)) {
    throw failedPrecondition(`vm "${name}" is ${state}; ${action} needs it to be ${ALLOWED[action].join(' or ')}`);
  }
}

/** Nothing of the VM runs or is held: stopped, failed or destroyed. */
export function isFinal(state: VmState): boolean {
  return state === 'stopped' || state === 'failed' || state === 'destroyed';
}

/** No vCPU of the VM runs, and none will unless someone asks: a console can end. */
export function isOff(state: VmState): boolean {
  return isFinal(state) || state === 'preserved';
}

/** A vCPU may exist on the VM's node (so releasing it starts with cpu StopVm). */
export function vcpuMayRun(state: VmState): boolean {
  return state === 'running' || state === 'paused' || state === 'stopping' || state === 'rebooting';
}

/** The VM counts against its node's load. */
export function occupiesNode(state: VmState): boolean {
  return state === 'created' || vcpuMayRun(state);
}

/** What dom0 knows of one VM; persisted in KV as vm.<id>.state. */
export interface VmRecord {
  name: string;
  state: VmState;
  memoryBytes: number;
  /** What the hart enters first: the image, or (firmware boot) the firmware. */
  image: string;
  firmware?: string;
  kernel?: string;
  entry: number;
  /** Where a firmware continues (the kernel's entry, else 0): fw_dynamic_info.next_addr. */
  nextAddr?: number;
  /** Where the device tree was loaded (a1 at reset); absent in records from before DTBs. */
  dtbAddr?: number;
  ramBase: number;
  reason: string;
  exitCode: number;
  createdAt: number;
  startedAt: number;
  stoppedAt: number;
  /** The cpu node (gRPC address) the VM is placed on; absent in records from before placement. */
  node?: string;
  vcpus?: number;
  /** How the guest kernel runs; absent in records from before modes (they ran emulate). */
  mode?: VmMode;
  /** The hart has the H extension (config `cpu: { h: true }`); absent: it has not. */
  h?: boolean;
  /** How the hart runs guest code (config `cpu: { engine: ... }`); absent: the default (DEFAULT_ENGINE, the translator). */
  engine?: Engine;
  onPoweroff?: Policy;
  onReboot?: Policy;
  onCrash?: Policy;
  /** Starts so far, restarts included. */
  boots?: number;
  /** When dom0 asked the cpu for this boot: data-plane events stamped earlier belong to an
   *  earlier boot (the second report of one reset must not restart the VM twice). */
  bootAt?: number;
  /** Restarts after a crash in quick succession (on_crash=restart gives up after a few). */
  crashRestarts?: number;
}

export function toVmInfo(r: VmRecord, now = Date.now()): Dom0V1.VmInfo {
  return {
    name: r.name,
    state: r.state,
    memoryBytes: r.memoryBytes,
    image: r.image,
    reason: r.reason,
    exitCode: r.exitCode,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    stoppedAt: r.stoppedAt,
    node: r.node ?? '',
    uptimeSeconds: (r.state === 'running' || r.state === 'paused') && r.startedAt ? (now - r.startedAt) / 1000 : 0,
    onPoweroff: r.onPoweroff ?? 'destroy',
    onReboot: r.onReboot ?? 'restart',
    onCrash: r.onCrash ?? 'destroy',
    vcpus: r.vcpus ?? 1,
    boots: r.boots ?? (r.startedAt ? 1 : 0),
    firmware: r.firmware ?? '',
    kernel: r.kernel ?? '',
    mode: r.mode ?? 'emulate',
  };
}
