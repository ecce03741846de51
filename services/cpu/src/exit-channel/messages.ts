// What a vCPU worker and its host thread say to each other: the exit statuses, the exit
// table's reasons, the messages on the worker's port and the worker's start data. The
// shared words under them are layout.ts's, read and written only by the two ends.
import type { MessagePort } from 'node:worker_threads';
import { EXIT_REASON_TABLE, type ExitReason, type VmMode } from '@splitvisor/platform';
import type { Engine, WasmMemory } from '@splitvisor/riscv';

export const ExitStatus = {
  Ok: 0,
  /** The device or memory refused: the guest sees an access fault. */
  AccessFault: 1,
  /** The exit could not be served (service down, deadline): the VM cannot go on. */
  Failed: 2,
  /** The access caused a poweroff (its exit code is the reply's lo word) or reset: the vCPU stops now. */
  Poweroff: 3,
  Reset: 4,
} as const;
export type ExitStatusValue = (typeof ExitStatus)[keyof typeof ExitStatus];

/** The exit table's rows are the platform's (libs/platform exit-reasons.ts): one list for
 *  the counters here and for everything that shows them. Two kinds of exit row:
 *  - exits that leave the process (mmio-read, mmio-write, page-fetch): the worker blocks
 *    until the host thread has served them over the network;
 *  - local exits, handled inside the worker without leaving it (LOCAL_EXIT_REASONS: wfi
 *    today; the mode monitors' privileged-instruction emulation, SBI calls, shadow and
 *    guest-page faults, virtual interrupt injection count with
 *    ExitChannelWorker.recordLocalExit, see vcpu-runner.ts).
 *  Posted rows (mmio-coalesced, doorbell) are stores that are not exits at all
 *  (posted-ring.ts): counted so the table shows where the guest's device writes went; their
 *  time stays 0, the vCPU never waited for them. The shadowed row (mmio-shadowed) counts
 *  device loads served from io-backend's read shadow (read-shadow.ts): no exit either. The order is the order of GetVmStats' rows. */
export { EXIT_REASONS, Reason, type ExitReason, type ReasonIndex } from '@splitvisor/platform';
/** The exits a worker handles without leaving its process. */
export const LOCAL_EXIT_REASONS: readonly ExitReason[] = EXIT_REASON_TABLE.filter((r) => r.kind === 'local').map((r) => r.name);

/** Messages from the worker to its host. */
export type WorkerRequest =
  | { kind: 'mmio'; addr: number; size: 1 | 2 | 4 | 8; write: boolean; lo: number; hi: number }
  | { kind: 'fetch'; pageIndex: number; count: number; write: boolean }
  /** Posted writes wait in the ring (posted-ring.ts): deliver them; the worker goes on. */
  | { kind: 'posted' }
  | { kind: 'exited'; reason: string; exitCode: number; cause: VcpuExitCause }
  | { kind: 'log'; level: 'info' | 'warn'; msg: string; fields: Record<string, unknown> };

/** Why a vCPU stopped running for good. */
export type VcpuExitCause = 'poweroff' | 'reset' | 'stopped' | 'fatal' | 'exit-failed';

/** What the host gives the worker at start (in its InitMessage). */
export interface WorkerInit {
  vmId: string;
  hartId: number;
  ramBase: number;
  ramSize: number;
  entry: number;
  dtbAddr: number;
  ram: SharedArrayBuffer;
  /** The WebAssembly memory `ram` is the buffer of, when the host made one (engine
   *  'translate'): GuestRam then lays the hart's tables after RAM in it. */
  ramMemory?: WasmMemory;
  /** The exit channel's shared blocks (ExitChannelHost.buffers). */
  channel: ExitChannelBuffers;
  /** 'host': CLINT time from the host's monotonic clock at 10 MHz; 'icount': from retired
   *  instructions, so a run can be replayed exactly. */
  clock: 'host' | 'icount';
  /** How the guest runs: 'emulate' (the hart is the guest's, from M-mode up) or 'hw' (the
   *  guest in VS-mode under the cpu's HS monitor, monitor/hw-monitor.ts). */
  mode: VmMode;
  /** The hart has the H extension (misa.H, HS/VS/VU): the guest is its own hypervisor.
   *  Absent: it has not. */
  h?: boolean;
  /** How the hart runs guest code: the interpreter or the translator (riscv Engine). */
  engine?: Engine;
  batch: number;
  /** The worker's end of the page cache's recall channel (page-cache/protocol.ts). */
  recallPort?: MessagePort;
}

/** The host's one message to its worker thread: the VM it runs (worker.ts). The recall
 *  port (init.recallPort) is transferred with it. */
export interface InitMessage {
  kind: 'init';
  init: WorkerInit;
}

/** The shared memory of one vCPU's exit channel, made by the host end, given to the worker. */
export interface ExitChannelBuffers {
  /** Control words (layout.ts CTRL_*). */
  ctrl: SharedArrayBuffer;
  /** The exit table, the MMIO latency ring, per-device counters (layout.ts STATS_*). */
  stats: SharedArrayBuffer;
  /** One Int32 per PLIC source: the line's level (0/1), written by the host. */
  irqLevels: SharedArrayBuffer;
  /** The posted-write ring (posted-ring.ts). */
  posted: SharedArrayBuffer;
  /** The read shadow io-backend granted (read-shadow.ts). */
  shadow: SharedArrayBuffer;
}
