// Where mtime comes from. The CLINT reads a tick count at TIMEBASE_HZ (10 MHz, QEMU's
// RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ) from an injected source, so the same device runs on
// wall time in the lab and on retired instructions when a run must be reproducible (as
// QEMU's -icount does). A source returns a non-negative integer that never goes down;
// a number holds 2^53 ticks exactly, about 28 years at 10 MHz.
import { TIMEBASE_HZ } from '@splitvisor/platform';

export type TickSource = () => number;

const TICKS_PER_MS = TIMEBASE_HZ / 1000;

/**
 * Host time scaled to 10 MHz, counted from `startMs` (a `performance.now()` value; by
 * default the moment of the call), so mtime starts near 0 when the machine is built.
 * performance.now() rather than process.hrtime.bigint(): no BigInt allocated per read,
 * and it is monotonic with sub-microsecond resolution, finer than one 100 ns tick.
 */
export function hostClock(startMs: number = performance.now()): TickSource {
  return () => {
    const t = Math.floor((performance.now() - startMs) * TICKS_PER_MS);
    return t > 0 ? t : 0;
  };
}

/**
 * Deterministic time: mtime advances with instructions retired, `instructionsPerTick`
 * per tick, and by explicit skips when every hart idles in WFI (QEMU's icount warp).
 * The vCPU loop calls advance() after each batch with that batch's retired count.
 */
export class IcountClock {
  readonly instructionsPerTick: number;
  private instructions = 0;
  private skipped = 0;

  /** 100 instructions per 100 ns tick by default: a 1 GHz guest, as QEMU -icount shift=0. */
  constructor(instructionsPerTick = 100) {
    if (!Number.isSafeInteger(instructionsPerTick) || instructionsPerTick <= 0) {
      throw new RangeError(`instructionsPerTick must be a positive integer, got ${instructionsPerTick}`);
    }
    this.instructionsPerTick = instructionsPerTick;
  }

  /** The tick source to give the CLINT; bound, so it can be passed around alone. */
  readonly now: TickSource = () => Math.floor(this.instructions / this.instructionsPerTick) + this.skipped;

  /** Counts `retired` more instructions. */
  advance(retired: number): void {
    if (!Number.isSafeInteger(retired) || retired < 0) throw new RangeError(`retired must be a non-negative integer, got ${retired}`);
    this.instructions += retired;
  }

  /** Jumps `ticks` ahead: an idle machine's way to reach its next timer deadline. */
  skip(ticks: number): void {
    if (!Number.isSafeInteger(ticks) || ticks < 0) throw new RangeError(`ticks must be a non-negative integer, got ${ticks}`);
    this.skipped += ticks;
  }
}
