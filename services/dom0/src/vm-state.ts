// The VM state machine: named states and the transitions allowed between them. An illegal
// request is refused with a message that names the state (FAILED_PRECONDITION).
import type { Dom0V1 } from '@splitvisor/proto';
import { failedPrecondition } from '@splitvisor/rpc';

export type VmState = 'created' | 'running' | 'stopping' | 'stopped' | 'failed' | 'destroyed';

export type VmAction = 'start' | 'stop' | 'destroy' | 'replace';

const ALLOWED: Record<VmAction, readonly VmState[]> = {
  start: ['created'],
  stop: ['running'],
  destroy: ['created', 'running', 'stopping', 'stopped', 'failed'],
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

export function isFinal(state: VmState): boolean {
  return state === 'stopped' || state === 'failed' || state === 'destroyed';
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
}

export function toVmInfo(r: VmRecord): Dom0V1.VmInfo {
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
  };
}
