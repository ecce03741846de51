// Host steps (wasm/dispatch.ts): an instruction the block compiler leaves to the
// interpreter, a CSR access, run for the dispatcher without leaving its chain of blocks.
// The dispatcher calls hostStep; the run loop (run.ts) says, once per batch, which hart
// runs and its counters at the batch's start, and before each chain how many steps the
// batch has taken, so the step sees the counters exactly as the interpreter would
// (executor.ts: a CSR reads them as of before itself).

import { csrInstruction } from '../csr.js';
import type { HartState } from '../state.js';
import type { TranslationStats } from './cache.js';

/** The batch now running and its chain: set by the run loop, read by hostStep (one
 *  object, mutated in place: nothing is allocated per batch or chain). */
export const hostChain = {
  s: null as HartState | null,
  /** s.cycles, s.instret and s.exceptions when the batch started. */
  cycles0: 0,
  instret0: 0,
  exc0: 0,
  /** The code cache's figures (hostSteps counts the steps). */
  stats: null as TranslationStats | null,
  /** Steps the batch had taken when the chain now running started. */
  before: 0,
};

/** Runs the CSR instruction `inst` at `pc`, `steps` instructions into the chain; 1 when
 *  it went straight on and changed nothing the chain depends on (the dispatcher goes on
 *  at pc + 4), 0 when the run loop must look again: a trap (pc is the handler's), or a
 *  write that ended the interpreter's batch too (s.brk: translation, interrupt enables). */
export function hostStep(pc: number, steps: number, inst: number, rd: number): number {
  const s = hostChain.s!;
  const done = hostChain.before + steps;
  s.cycles = hostChain.cycles0 + done;
  s.instret = hostChain.instret0 + done - (s.exceptions - hostChain.exc0);
  s.pc = pc;
  hostChain.stats!.hostSteps++;
  if (!csrInstruction(s, inst, rd)) return 0;
  s.pc = pc + 4;
  return s.brk ? 0 : 1;
}
