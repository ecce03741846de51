// Trap entry and return for M-mode (privileged spec 1.12, 3.1.6-3.1.20, 3.3.2).
// Issue 3 adds delegation to S-mode (medeleg/mideleg) here and nowhere else.

import { numHi, numLo, pairHex, pairIsExact, pairToNumber } from './int64.js';
import { PRIV_M, type HartState } from './state.js';

/** mcause exception codes (priv 1.12 table 3.6). */
export const Cause = {
  MisalignedFetch: 0,
  FetchAccess: 1,
  IllegalInstruction: 2,
  Breakpoint: 3,
  MisalignedLoad: 4,
  LoadAccess: 5,
  MisalignedStore: 6,
  StoreAccess: 7,
  EcallU: 8,
  EcallS: 9,
  EcallM: 11,
  FetchPageFault: 12,
  LoadPageFault: 13,
  StorePageFault: 15,
} as const;

/** Interrupt numbers: bit positions in mip/mie and the mcause code of the interrupt. */
export const Irq = {
  SSI: 1,
  MSI: 3,
  STI: 5,
  MTI: 7,
  SEI: 9,
  MEI: 11,
} as const;

const CAUSE_NAMES: Record<number, string> = {
  0: 'instruction address misaligned',
  1: 'instruction access fault',
  2: 'illegal instruction',
  3: 'breakpoint',
  4: 'load address misaligned',
  5: 'load access fault',
  6: 'store/AMO address misaligned',
  7: 'store/AMO access fault',
  8: 'environment call from U-mode',
  9: 'environment call from S-mode',
  11: 'environment call from M-mode',
  12: 'instruction page fault',
  13: 'load page fault',
  15: 'store/AMO page fault',
};

export function causeName(cause: number): string {
  return CAUSE_NAMES[cause] ?? `cause ${cause}`;
}

/** Raises a synchronous exception for the instruction at s.pc. */
export function raiseException(s: HartState, cause: number, tvalLo: number, tvalHi: number): void {
  raiseExceptionAt(s, cause, numLo(s.pc), numHi(s.pc), tvalLo, tvalHi);
}

/** Raises an exception whose epc is given exactly: a fetch from an address the pc cannot
 *  hold (beyond +-2^53) reports that address in mepc and mtval. */
export function raiseExceptionAt(
  s: HartState,
  cause: number,
  epcLo: number,
  epcHi: number,
  tvalLo: number,
  tvalHi: number,
): void {
  s.exceptions++;
  const target = enterTrap(s, cause, 0, epcLo, epcHi, tvalLo, tvalHi, 0);
  // A trap taken at the very address the previous trap entered, for the same cause and
  // tval, has reached a fixed point: the handler's first instruction traps to itself
  // (mtvec unset or unmapped, handler not loaded). Nothing but an outside event could
  // change that, so report it instead of burning the budget.
  const epc = pairIsExact(epcLo, epcHi) ? pairToNumber(epcLo, epcHi) : Number.NaN;
  if (epc === s.lastTrapTarget && cause === s.lastTrapCause && tvalLo === s.lastTvalLo && tvalHi === s.lastTvalHi) {
    fatal(
      s,
      `trap loop at pc=${pairHex(epcLo, epcHi)}: ${causeName(cause)} (cause ${cause}), ` +
        `tval=${pairHex(tvalLo, tvalHi)}, mtvec=${pairHex(s.mtvecLo, s.mtvecHi)}`,
    );
  }
  s.lastTrapTarget = target;
  s.lastTrapCause = cause;
  s.lastTvalLo = tvalLo;
  s.lastTvalHi = tvalHi;
}

/** Takes interrupt `code`; the interrupted pc (s.pc) is the next instruction to run. */
export function takeInterrupt(s: HartState, code: number): void {
  s.interrupts++;
  const vectored = (s.mtvecLo & 3) === 1;
  enterTrap(s, code, 0x80000000 | 0, numLo(s.pc), numHi(s.pc), 0, 0, vectored ? 4 * code : 0);
  s.lastTrapTarget = Number.NaN;
}

/** The common part of trap entry; returns the handler address it jumped to. */
function enterTrap(
  s: HartState,
  causeLo: number,
  causeHi: number,
  epcLo: number,
  epcHi: number,
  tvalLo: number,
  tvalHi: number,
  vectorOffset: number,
): number {
  // IALIGN = 32: mepc[1:0] read as zero (priv 3.1.14).
  s.mepcLo = epcLo & ~3;
  s.mepcHi = epcHi;
  s.mcauseLo = causeLo;
  s.mcauseHi = causeHi;
  s.mtvalLo = tvalLo;
  s.mtvalHi = tvalHi;
  s.mstatusMpie = s.mstatusMie;
  s.mstatusMie = 0;
  s.mstatusMpp = s.priv;
  s.priv = PRIV_M;
  // Exceptions always go to BASE, also in vectored mode (priv 3.1.7).
  const baseLo = s.mtvecLo & ~3;
  if (!pairIsExact(baseLo, s.mtvecHi)) {
    fatal(s, `trap handler unreachable: mtvec=${pairHex(s.mtvecLo, s.mtvecHi)} (cause ${causeLo})`);
    return s.pc;
  }
  const target = pairToNumber(baseLo, s.mtvecHi) + vectorOffset;
  s.pc = target;
  return target;
}

/** MRET (priv 3.3.2): back to mepc in mstatus.MPP with MIE restored from MPIE. */
export function mret(s: HartState): void {
  s.mstatusMie = s.mstatusMpie;
  s.mstatusMpie = 1;
  s.priv = s.mstatusMpp;
  // MPP becomes the least-privileged supported mode: M while U is absent.
  s.mstatusMpp = PRIV_M;
  jumpToPair(s, s.mepcLo, s.mepcHi);
}

/** Sets the pc to a 64-bit target; one the pc cannot hold is an instruction access fault
 *  there (no physical memory lies beyond 2^53), reported with the exact address. */
export function jumpToPair(s: HartState, lo: number, hi: number): void {
  if (pairIsExact(lo, hi)) {
    s.pc = pairToNumber(lo, hi);
  } else {
    raiseExceptionAt(s, Cause.FetchAccess, lo, hi, lo, hi);
  }
}

/** The interrupt to take now, or -1 (priv 3.1.9: M-mode interrupts are globally enabled
 *  by mstatus.MIE in M-mode and always enabled below it). Priority MEI > MSI > MTI >
 *  SEI > SSI > STI. */
export function pendingInterrupt(s: HartState): number {
  const p = s.mip & s.mie;
  if (p === 0) return -1;
  if (s.priv === PRIV_M && s.mstatusMie === 0) return -1;
  if (p & (1 << Irq.MEI)) return Irq.MEI;
  if (p & (1 << Irq.MSI)) return Irq.MSI;
  if (p & (1 << Irq.MTI)) return Irq.MTI;
  if (p & (1 << Irq.SEI)) return Irq.SEI;
  if (p & (1 << Irq.SSI)) return Irq.SSI;
  if (p & (1 << Irq.STI)) return Irq.STI;
  return -1;
}

export function fatal(s: HartState, reason: string): void {
  if (s.fatal === null) s.fatal = reason;
  s.brk = true;
}
