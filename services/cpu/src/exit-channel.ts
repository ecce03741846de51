// The synchronous exit path between a vCPU worker and its host thread. The worker posts an
// exit (MMIO, page fetch) and blocks in Atomics.wait, as a vCPU thread blocks in KVM_RUN
// while userspace handles the exit; the host thread does the gRPC call and wakes it.
// Layout of the shared control block (Int32Array):
import { MACHINE_REGIONS } from '@splitvisor/platform';

/** 0 while the worker waits, 1 when the host has written the reply. */
export const CTRL_REPLY = 0;
/** ExitStatus of the reply. */
export const CTRL_STATUS = 1;
/** Read data, low and high 32 bits. */
export const CTRL_LO = 2;
export const CTRL_HI = 3;
/** Set by the host to ask the worker to stop at its next batch boundary. */
export const CTRL_STOP = 4;
/** Bumped by the host to wake a worker idling in WFI. */
export const CTRL_WAKE = 5;
/** Set by the host when an IRQ line level changed; the worker feeds its PLIC and clears it. */
export const CTRL_IRQ_DIRTY = 6;
/** Set by the host to park the vCPU at its next safepoint; cleared (and CTRL_WAKE
 *  bumped) to let it go on. The worker sets CTRL_PARKED while it is parked. */
export const CTRL_PAUSE = 7;
export const CTRL_PARKED = 8;
/** Recall orders the host has posted on the recall port (a count; the worker counts the
 *  ones it took). With it the host may set CTRL_REPLY to 2 (page-cache/protocol.ts
 *  DOORBELL) to wake a worker waiting for an exit's answer. */
export const CTRL_RECALL = 10;
export const CTRL_WORDS = 12;

export const ExitStatus = {
  Ok: 0,
  /** The device or memory refused: the guest sees an access fault. */
  AccessFault: 1,
  /** The exit could not be served (service down, deadline): the VM cannot go on. */
  Failed: 2,
  /** The access caused a poweroff (exit code in CTRL_LO) or reset: the vCPU stops now. */
  Poweroff: 3,
  Reset: 4,
} as const;
export type ExitStatusValue = (typeof ExitStatus)[keyof typeof ExitStatus];

/** The exit table: one row per reason, as `perf kvm stat` shows it. The last two rows are
 *  stores that are not exits at all (posted-ring.ts): counted so the table shows where the
 *  guest's device writes went; their time stays 0, the vCPU never waited for them. */
export const EXIT_REASONS = ['mmio-read', 'mmio-write', 'page-fetch', 'wfi', 'mmio-coalesced', 'doorbell'] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];
/** Stats block (Float64Array): [instret, runSeconds, then count and total ms per reason]. */
export const STATS_INSTRET = 0;
export const STATS_RUN_SECONDS = 1;
export const statsCountIndex = (i: number) => 2 + 2 * i;
export const statsTimeIndex = (i: number) => 3 + 2 * i;
/** Ring of the latest MMIO exit round trips in µs, and the count written so far. */
export const STATS_RING_COUNT = 2 + 2 * EXIT_REASONS.length;
export const STATS_RING_START = STATS_RING_COUNT + 1;
export const STATS_RING_SIZE = 4096;
/** Per region of MACHINE_REGIONS (platform), in its order: read exits, write exits, their
 *  total ms, stores posted. */
export const STATS_DEVICE_START = STATS_RING_START + STATS_RING_SIZE;
export const STATS_DEVICE_WORDS = 4;
export const STATS_WORDS = STATS_DEVICE_START + MACHINE_REGIONS.length * STATS_DEVICE_WORDS;

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

/** What the host gives the worker at start (workerData). */
export interface WorkerInit {
  vmId: string;
  hartId: number;
  ramBase: number;
  ramSize: number;
  entry: number;
  dtbAddr: number;
  ram: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  /** One Int32 per PLIC source: the line's level (0/1), written by the host. */
  irqLevels: SharedArrayBuffer;
  /** 'host': CLINT time from the host's monotonic clock at 10 MHz; 'icount': from retired
   *  instructions, so a run can be replayed exactly. */
  clock: 'host' | 'icount';
  batch: number;
  /** The posted-write ring (posted-ring.ts, POSTED_BYTES). */
  posted: SharedArrayBuffer;
  /** The worker's end of the page cache's recall channel (page-cache/protocol.ts). */
  recallPort?: import('node:worker_threads').MessagePort;
}
