// The words of the shared blocks between a vCPU worker and its host thread. Private to
// this folder: host-end.ts and worker-end.ts are the only readers and writers.
import { MACHINE_REGIONS } from '@splitvisor/platform';
import { EXIT_REASONS } from './messages.js';

// Control block (Int32Array).
/** 0 while the worker waits, REPLIED when the host has written the reply, DOORBELL while
 *  the worker waits and a recall order is waiting for it. */
export const CTRL_REPLY = 0;
export const REPLIED = 1;
export const DOORBELL = 2;
/** ExitStatus of the reply. */
export const CTRL_STATUS = 1;
/** Read data, low and high 32 bits (the exit code of a poweroff in LO). */
export const CTRL_LO = 2;
export const CTRL_HI = 3;
/** Set by the host to ask the worker to stop at its next safepoint. */
export const CTRL_STOP = 4;
/** Bumped by the host to wake a worker idling in WFI or parked: every request above and
 *  below bumps it, so a worker that read it before looking at them never sleeps through one. */
export const CTRL_WAKE = 5;
/** Set by the host when an IRQ line level changed; the worker feeds its PLIC and clears it. */
export const CTRL_IRQ_DIRTY = 6;
/** Set by the host to park the vCPU at its next safepoint; cleared to let it go on. The
 *  worker sets CTRL_PARKED while it is parked. */
export const CTRL_PAUSE = 7;
export const CTRL_PARKED = 8;
/** Recall orders the host has posted on the recall port (a count; the worker counts the
 *  ones it took). */
export const CTRL_RECALL = 10;
export const CTRL_WORDS = 12;

// Stats block (Float64Array): instret, run seconds, then count and total ms per reason.
export const STATS_INSTRET = 0;
export const STATS_RUN_SECONDS = 1;
export const statsCountIndex = (i: number) => 2 + 2 * i;
export const statsTimeIndex = (i: number) => 3 + 2 * i;
/** Ring of the latest MMIO exit round trips in µs, and the count written so far. */
export const STATS_RING_COUNT = 2 + 2 * EXIT_REASONS.length;
export const STATS_RING_START = STATS_RING_COUNT + 1;
export const STATS_RING_SIZE = 4096;
/** Per region of MACHINE_REGIONS (platform), in its order: read exits, write exits, their
 *  total ms, stores posted, loads served from the read shadow. */
export const STATS_DEVICE_START = STATS_RING_START + STATS_RING_SIZE;
export const STATS_DEVICE_WORDS = 5;
export const DEVICE_READS = 0;
export const DEVICE_WRITES = 1;
export const DEVICE_MS = 2;
export const DEVICE_POSTED = 3;
export const DEVICE_SHADOWED = 4;
/** The translate engine's code cache (riscv TranslationStats), in CODE_CACHE_FIELDS order. */
export const STATS_CODE_START = STATS_DEVICE_START + MACHINE_REGIONS.length * STATS_DEVICE_WORDS;
export const CODE_CACHE_FIELDS = [
  'compiled',
  'live',
  'liveInsns',
  'liveSourceBytes',
  'compileMs',
  'evictions',
  'invalidations',
  'compiledWasm',
  'hostSteps',
] as const;
export const STATS_WORDS = STATS_CODE_START + CODE_CACHE_FIELDS.length;
