// Host steps (wasm/dispatch.ts): an instruction the block compiler leaves to the
// interpreter, a CSR access, run for the dispatcher without leaving its chain of blocks.
// The dispatcher calls hostStep; the run loop (run.ts) says, before each chain, which
// hart runs and where its batch's counters stand, so the step sees the counters exactly
// as the interpreter would (executor.ts: a CSR reads them as of before itself).

import { csrInstruction } from '../csr.js';
import type { HartState } from '../state.js';
import type { TranslationStats } from './cache.js';

/** The chain now running: set by the run loop before each dispatcher call, read by
 *  hostStep (one object, mutated in place: nothing is allocated per chain). */
export const hostChain = {
  s: null as HartState | null,
  /** s.cycles when the chain started (the batch's cycles0 plus its steps so far). */
  cycles: 0,
  /** The batch's instret0 plus its steps so far, before exceptions are taken off. */
  instret: 0,
  /** s.exceptions when the batch started. */
  exc0: 0,
  /** The code cache's figures (hostSteps counts the steps). */
  stats: null as TranslationStats | null,
};

/** Runs the CSR instruction `inst` at `pc`, `steps` instructions into the chain; 1 when
 *  it went straight on and changed nothing the chain depends on (the dispatcher goes on
 *  at pc + 4), 0 when the run loop must look again: a trap (pc is the handler's), or a
 *  write that ended the interpreter's batch too (s.brk: translation, interrupt enables). */
export function hostStep(pc: number, steps: number, inst: number, rd: number): number {
  const s = hostChain.s!;
  s.cycles = hostChain.cycles + steps;
  s.instret = hostChain.instret + steps - (s.exceptions - hostChain.exc0);
  s.pc = pc;
  hostChain.stats!.hostSteps++;
  if (!csrInstruction(s, inst, rd)) return 0;
  s.pc = pc + 4;
  return s.brk ? 0 : 1;
}
