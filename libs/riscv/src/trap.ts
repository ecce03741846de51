// Traps, delegation, interrupts and the privileged instructions that change mode
// (privileged spec 1.12: 3.1.6-3.1.20, 3.3, 4.1, 4.2). Every trap and every xRET ends the
// executor's batch (s.brk): the privilege, and with it the address space the executor's
// current code block was found in, may have changed.

// Cause and Irq live in a leaf module (cause.ts) and are re-exported first, so modules in
// an import cycle through this one (ext-a -> mem-access -> trap) can use them at load.
export { Cause, Irq, causeName } from './cause.js';
import { Cause, Irq, causeName } from './cause.js';
import { clearReservation } from './isa/a/decode.js';
import { EPC_MASK } from './misa.js';
import { numHi, numLo, pairHex, pairIsExact, pairToNumber } from './int64.js';
import { pagingOn, updateTranslationMode } from './mmu/sv.js';
import { MENVCFG_STCE_HI, PRIV_M, PRIV_S, PRIV_U, type HartState } from './state.js';
import { hEnterTrap, hPendingInterrupt, hSfenceFault, hWfiFault, hXret, vsTimerDeadline, vsTimerPending } from './hypervisor/trap.js';

const INST_MRET = 0x30200073;
const INST_SRET = 0x10200073;
const INST_WFI = 0x10500073;

/** Raises a synchronous exception for the instruction at s.pc. */
export function raiseException(s: HartState, cause: number, tvalLo: number, tvalHi: number): void {
  raiseExceptionAt(s, cause, numLo(s.pc), numHi(s.pc), tvalLo, tvalHi);
}

/** Raises an exception whose epc is given exactly: a fetch from an address the pc cannot
 *  hold (beyond +-2^53) reports that address in xepc and xtval. */
export function raiseExceptionAt(s: HartState, cause: number, epcLo: number, epcHi: number, tvalLo: number, tvalHi: number): void {
  s.exceptions++;
  const target = enterTrap(s, cause, 0, epcLo, epcHi, tvalLo, tvalHi, false);
  // A trap taken at the very address the previous trap entered, for the same cause and
  // tval, has reached a fixed point: the handler's first instruction traps to itself
  // (xtvec unset or unmapped, handler not loaded). Nothing but an outside event could
  // change that, so report it instead of burning the budget.
  const epc = pairIsExact(epcLo, epcHi) ? pairToNumber(epcLo, epcHi) : Number.NaN;
  if (epc === s.lastTrapTarget && cause === s.lastTrapCause && tvalLo === s.lastTvalLo && tvalHi === s.lastTvalHi) {
    const tvec = s.priv === PRIV_M ? pairHex(s.mtvecLo, s.mtvecHi) : pairHex(s.stvecLo, s.stvecHi);
    fatal(
      s,
      `trap loop at pc=${pairHex(epcLo, epcHi)}: ${causeName(cause)} (cause ${cause}), ` +
        `tval=${pairHex(tvalLo, tvalHi)}, ${s.priv === PRIV_M ? 'mtvec' : 'stvec'}=${tvec}`,
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
  enterTrap(s, code, 0x80000000 | 0, numLo(s.pc), numHi(s.pc), 0, 0, true);
  s.lastTrapTarget = Number.NaN;
}

/**
 * The common part of trap entry (priv 3.1.8, 4.1.1): a trap taken in S or U whose bit is
 * set in medeleg/mideleg goes to S-mode, everything else to M-mode. Returns the handler
 * address it jumped to.
 */
function enterTrap(s: HartState, causeLo: number, causeHi: number, epcLo: number, epcHi: number, tvalLo: number, tvalHi: number, interrupt: boolean): number {
  const deleg = interrupt ? s.mideleg : s.medeleg;
  let baseLo: number;
  let baseHi: number;
  if (s.h !== null) {
    // H: M, HS or VS; stvec is the vector of whichever S level it entered (the swap).
    causeLo = hEnterTrap(s, causeLo, causeHi, epcLo, epcHi, tvalLo, tvalHi, interrupt);
    baseLo = s.priv === PRIV_M ? s.mtvecLo : s.stvecLo;
    baseHi = s.priv === PRIV_M ? s.mtvecHi : s.stvecHi;
  } else if (s.priv !== PRIV_M && ((deleg >>> causeLo) & 1) !== 0) {
    s.sepcLo = epcLo & EPC_MASK;
    s.sepcHi = epcHi;
    s.scauseLo = causeLo;
    s.scauseHi = causeHi;
    s.stvalLo = tvalLo;
    s.stvalHi = tvalHi;
    s.mstatusSpie = s.mstatusSie;
    s.mstatusSie = 0;
    s.mstatusSpp = s.priv;
    s.priv = PRIV_S;
    baseLo = s.stvecLo;
    baseHi = s.stvecHi;
  } else {
    // A monitor in the host plays M (Hart monitorTraps): the run ends at M's entry.
    if (s.monitorTraps) {
      s.monitorTrap = true;
      s.brk = true;
    }
    s.mepcLo = epcLo & EPC_MASK;
    s.mepcHi = epcHi;
    s.mcauseLo = causeLo;
    s.mcauseHi = causeHi;
    s.mtvalLo = tvalLo;
    s.mtvalHi = tvalHi;
    s.mstatusMpie = s.mstatusMie;
    s.mstatusMie = 0;
    s.mstatusMpp = s.priv;
    s.priv = PRIV_M;
    baseLo = s.mtvecLo;
    baseHi = s.mtvecHi;
  }
  // Exceptions always go to BASE, interrupts to BASE + 4 * cause in vectored mode.
  const vectored = interrupt && (baseLo & 3) === 1;
  privilegeChanged(s);
  baseLo &= ~3;
  if (!pairIsExact(baseLo, baseHi)) {
    fatal(s, `trap handler unreachable: tvec=${pairHex(baseLo, baseHi)} (cause ${causeLo})`);
    return s.pc;
  }
  const target = pairToNumber(baseLo, baseHi) + (vectored ? 4 * causeLo : 0);
  s.pc = target;
  return target;
}

/** Everything a change of privilege (or of V) implies. The LR reservation is dropped, as
 *  QEMU does on every mode change, so an SC in another context cannot succeed on a stale LR. */
export function privilegeChanged(s: HartState): void {
  clearReservation(s);
  updateTranslationMode(s);
  s.brk = true;
}

/**
 * MRET or SRET (priv 3.3.2) at s.pc. Returns false after raising illegal-instruction:
 * MRET below M, SRET in U, SRET in S with mstatus.TSR. Otherwise the mode becomes xPP,
 * xIE comes back from xPIE, xPP becomes U, MPRV is cleared when leaving M (1.12), and the
 * pc becomes xepc (whose fetch may then fault).
 */
export function xret(s: HartState, sret: boolean): boolean {
  if (s.h !== null) {
    const fault = hXret(s, sret);
    if (fault !== 0) {
      raiseException(s, fault, sret ? INST_SRET : INST_MRET, 0);
      return false;
    }
    privilegeChanged(s);
    jumpToPair(s, s.csrLo & EPC_MASK, s.csrHi);
    return true;
  }
  if (sret ? s.priv === PRIV_U || (s.priv === PRIV_S && s.mstatusTsr !== 0) : s.priv !== PRIV_M) {
    raiseException(s, Cause.IllegalInstruction, sret ? INST_SRET : INST_MRET, 0);
    return false;
  }
  let lo: number;
  let hi: number;
  if (sret) {
    s.priv = s.mstatusSpp;
    s.mstatusSie = s.mstatusSpie;
    s.mstatusSpie = 1;
    s.mstatusSpp = PRIV_U;
    lo = s.sepcLo;
    hi = s.sepcHi;
  } else {
    s.priv = s.mstatusMpp;
    s.mstatusMie = s.mstatusMpie;
    s.mstatusMpie = 1;
    s.mstatusMpp = PRIV_U;
    lo = s.mepcLo;
    hi = s.mepcHi;
  }
  if (s.priv !== PRIV_M) s.mstatusMprv = 0;
  privilegeChanged(s);
  jumpToPair(s, lo & EPC_MASK, hi);
  return true;
}

/**
 * WFI (priv 3.3.3) at s.pc. Illegal in U-mode, and in S-mode when mstatus.TW is set (QEMU
 * traps at once rather than after a bounded time). Otherwise it retires; the hart idles
 * (the 'wfi' exit) unless an interrupt is pending and enabled in mie, whatever the global
 * enables say. Returns whether it retired.
 */
export function wfi(s: HartState): boolean {
  const fault = s.h !== null ? hWfiFault(s) : s.priv === PRIV_U || (s.priv === PRIV_S && s.mstatusTw !== 0) ? Cause.IllegalInstruction : 0;
  if (fault !== 0) {
    raiseException(s, fault, INST_WFI, 0);
    return false;
  }
  if ((s.mip & s.mie) === 0) s.wfiExit = true;
  s.brk = true;
  return true;
}

/**
 * SFENCE.VMA rs1, rs2 (priv 4.2.1) at s.pc: illegal in U, and in S with mstatus.TVM.
 * A TLB flush point: rs1 = x0 flushes everything; otherwise the page of x[rs1]. The ASID
 * in rs2 is not needed to be exact: the TLB holds only the current satp's translations
 * (a satp write flushes), so a flush by address across ASIDs is a superset. Returns whether
 * it retired; it always ends the batch (the current code page may map elsewhere now).
 */
export function sfenceVma(s: HartState, inst: number, rs1: number): boolean {
  const fault = s.h !== null ? hSfenceFault(s) : s.priv === PRIV_U || (s.priv === PRIV_S && s.mstatusTvm !== 0) ? Cause.IllegalInstruction : 0;
  if (fault !== 0) {
    raiseException(s, fault, inst, 0);
    return false;
  }
  const lo = s.xl[rs1]!;
  const hi = s.xh[rs1]!;
  if (rs1 === 0 || !pairIsExact(lo, hi)) s.tlb.flushAll();
  else s.tlb.flushPage(pairToNumber(lo, hi));
  s.brk = true;
  return true;
}

/** Sets the pc to a 64-bit target; one the pc cannot hold (beyond +-2^53) cannot be
 *  fetched: a page fault under translation (it is not canonical), else an access fault
 *  (no physical memory lies there), reported with the exact address. */
export function jumpToPair(s: HartState, lo: number, hi: number): void {
  if (pairIsExact(lo, hi)) {
    s.pc = pairToNumber(lo, hi);
  } else {
    const cause = pagingOn(s, s.priv, s.virt) ? Cause.FetchPageFault : Cause.FetchAccess;
    raiseExceptionAt(s, cause, lo, hi, lo, hi);
  }
}

/** Recomputes s.mip from its sources; ends the batch so a new interrupt is seen. */
export function updateMip(s: HartState): void {
  s.mip = s.mipHw | s.mipSw | s.mipTimer;
  s.brk = true;
}

/** Sstc: STIP = time >= stimecmp while menvcfg.STCE is set (and a clock exists). */
export function updateSstc(s: HartState): void {
  let stip = 0;
  if ((s.menvcfgHi & MENVCFG_STCE_HI) !== 0 && s.timeSource !== null) {
    const cmp = (s.stimecmpHi >>> 0) * 4294967296 + (s.stimecmpLo >>> 0);
    if (s.timeSource() >= cmp) stip = 1 << Irq.STI;
    if (s.h !== null && vsTimerPending(s, s.timeSource())) stip |= 1 << Irq.VSTI;
  }
  if (stip !== s.mipTimer) {
    s.mipTimer = stip;
    updateMip(s);
  }
}

/** The next time (10 MHz ticks) at which Sstc raises STIP, or Infinity. */
export function sstcDeadline(s: HartState): number {
  if ((s.menvcfgHi & MENVCFG_STCE_HI) === 0) return Number.POSITIVE_INFINITY;
  const vs = s.h !== null ? vsTimerDeadline(s) : Number.POSITIVE_INFINITY;
  if ((s.mipTimer & (1 << Irq.STI)) !== 0) return vs;
  return Math.min(vs, (s.stimecmpHi >>> 0) * 4294967296 + (s.stimecmpLo >>> 0));
}

/**
 * The interrupt to take now, or -1 (priv 3.1.9). An interrupt not delegated is an
 * M-level one: enabled in M by mstatus.MIE and always below M. A delegated one is enabled
 * in S by mstatus.SIE, always in U, never in M. M-level ones come first; within a level
 * the order is MEI, MSI, MTI, SEI, SSI, STI.
 */
export function pendingInterrupt(s: HartState): number {
  if (s.h !== null) return hPendingInterrupt(s, highest);
  const p = s.mip & s.mie;
  if (p === 0) return -1;
  const m = p & ~s.mideleg;
  if (m !== 0 && (s.priv !== PRIV_M || s.mstatusMie !== 0)) return highest(m);
  const sl = p & s.mideleg;
  if (sl !== 0 && (s.priv === PRIV_U || (s.priv === PRIV_S && s.mstatusSie !== 0))) return highest(sl);
  return -1;
}

function highest(p: number): number {
  if (p & (1 << Irq.MEI)) return Irq.MEI;
  if (p & (1 << Irq.MSI)) return Irq.MSI;
  if (p & (1 << Irq.MTI)) return Irq.MTI;
  if (p & (1 << Irq.SEI)) return Irq.SEI;
  if (p & (1 << Irq.SSI)) return Irq.SSI;
  if (p & (1 << Irq.STI)) return Irq.STI;
  // Only a hart with H has these (priv H 8.4.2).
  if (p & (1 << Irq.SGEI)) return Irq.SGEI;
  if (p & (1 << Irq.VSEI)) return Irq.VSEI;
  if (p & (1 << Irq.VSSI)) return Irq.VSSI;
  if (p & (1 << Irq.VSTI)) return Irq.VSTI;
  return -1;
}

export function fatal(s: HartState, reason: string): void {
  if (s.fatal === null) s.fatal = reason;
  s.brk = true;
}
