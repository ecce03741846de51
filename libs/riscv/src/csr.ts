// Zicsr instructions and the M-mode CSR file (privileged spec 1.12 ch. 2 and 3.1).
// Only what an M-mode-only RV64I hart has: anything else is illegal-instruction, which
// is also how firmware (OpenSBI's hart feature probe) learns a CSR is absent.

import { SINK } from './decoder.js';
import { Irq, raiseException, Cause } from './trap.js';
import { PRIV_M, type HartState } from './state.js';

export const Csr = {
  cycle: 0xc00,
  time: 0xc01,
  instret: 0xc02,
  hpmcounter3: 0xc03,
  hpmcounter31: 0xc1f,
  mvendorid: 0xf11,
  marchid: 0xf12,
  mimpid: 0xf13,
  mhartid: 0xf14,
  mconfigptr: 0xf15,
  mstatus: 0x300,
  misa: 0x301,
  mie: 0x304,
  mtvec: 0x305,
  mcountinhibit: 0x320,
  mhpmevent3: 0x323,
  mhpmevent31: 0x33f,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  mcycle: 0xb00,
  minstret: 0xb02,
  mhpmcounter3: 0xb03,
  mhpmcounter31: 0xb1f,
} as const;

/** misa: MXL = 2 (RV64) in bits 63:62, extension I. Issue 3 adds M/A/F/D/C/S/U. */
export const MISA_LO = 1 << 8;
export const MISA_HI = 0x80000000 | 0;

const MSTATUS_MIE = 1 << 3;
const MSTATUS_MPIE = 1 << 7;
const MSTATUS_MPP_SHIFT = 11;

/** mie bits software may set: the M-level interrupts that exist without S-mode. */
const MIE_WRITABLE = (1 << Irq.MSI) | (1 << Irq.MTI) | (1 << Irq.MEI);

/** Privilege modes this hart implements (WARL target for mstatus.MPP). */
function privSupported(p: number): boolean {
  return p === PRIV_M;
}

/** Reads a CSR into s.csrLo/s.csrHi; false when it does not exist. No side effects. */
export function csrRead(s: HartState, csr: number): boolean {
  let lo = 0;
  let hi = 0;
  switch (csr) {
    case Csr.mstatus:
      // SXL/UXL read 0 while S and U are absent; SD/FS/XS are 0 without F and extensions.
      lo = (s.mstatusMie << 3) | (s.mstatusMpie << 7) | (s.mstatusMpp << MSTATUS_MPP_SHIFT);
      break;
    case Csr.misa:
      lo = MISA_LO;
      hi = MISA_HI;
      break;
    case Csr.mvendorid:
    case Csr.marchid:
    case Csr.mimpid:
    case Csr.mconfigptr:
    case Csr.mcountinhibit:
      break;
    case Csr.mhartid:
      lo = s.hartId;
      break;
    case Csr.mie:
      lo = s.mie;
      break;
    case Csr.mip:
      lo = s.mip;
      break;
    case Csr.mtvec:
      lo = s.mtvecLo;
      hi = s.mtvecHi;
      break;
    case Csr.mscratch:
      lo = s.mscratchLo;
      hi = s.mscratchHi;
      break;
    case Csr.mepc:
      lo = s.mepcLo;
      hi = s.mepcHi;
      break;
    case Csr.mcause:
      lo = s.mcauseLo;
      hi = s.mcauseHi;
      break;
    case Csr.mtval:
      lo = s.mtvalLo;
      hi = s.mtvalHi;
      break;
    case Csr.mcycle:
    case Csr.cycle:
      counterValue(s, s.mcycleBaseLo, s.mcycleBaseHi, s.cycles - s.mcycleBaseAt);
      return true;
    case Csr.minstret:
    case Csr.instret:
      counterValue(s, s.minstretBaseLo, s.minstretBaseHi, s.instret - s.minstretBaseAt);
      return true;
    default:
      // The hardware performance monitor is present but every counter and event selector
      // is read-only zero, a legal implementation (priv 3.1.10). `time` (0xc01) stays
      // illegal until the CLINT gives the hart a clock.
      if (
        (csr >= Csr.hpmcounter3 && csr <= Csr.hpmcounter31) ||
        (csr >= Csr.mhpmcounter3 && csr <= Csr.mhpmcounter31) ||
        (csr >= Csr.mhpmevent3 && csr <= Csr.mhpmevent31)
      ) {
        break;
      }
      return false;
  }
  s.csrLo = lo;
  s.csrHi = hi;
  return true;
}

/** base + delta as 64 bits into s.csrLo/s.csrHi (delta is a non-negative count < 2^53). */
function counterValue(s: HartState, baseLo: number, baseHi: number, delta: number): void {
  const dLo = delta % 4294967296;
  const sum = (baseLo >>> 0) + dLo;
  s.csrLo = sum | 0;
  s.csrHi = (baseHi + Math.floor(delta / 4294967296) + (sum > 0xffffffff ? 1 : 0)) | 0;
}

/** Writes a CSR that csrRead accepted and that is not read-only, applying WARL rules.
 *  A counter written by an instruction holds the written value for the next one: the
 *  writer's own increment comes first (priv 3.1.11), hence `pending` = 1 from csrInstruction
 *  and 0 from a debugger write between instructions. */
export function csrWrite(s: HartState, csr: number, lo: number, hi: number, pending = 1): void {
  switch (csr) {
    case Csr.mstatus: {
      s.mstatusMie = lo & MSTATUS_MIE ? 1 : 0;
      s.mstatusMpie = lo & MSTATUS_MPIE ? 1 : 0;
      // WARL: an unsupported mode leaves MPP unchanged (as QEMU's legalize_mpp).
      const mpp = (lo >>> MSTATUS_MPP_SHIFT) & 3;
      if (privSupported(mpp)) s.mstatusMpp = mpp;
      s.brk = true;
      break;
    }
    case Csr.mie:
      s.mie = lo & MIE_WRITABLE;
      s.brk = true;
      break;
    case Csr.mip:
      // MSIP/MTIP/MEIP are read-only here, driven by CLINT and PLIC; the S-level
      // writable bits arrive with S-mode.
      break;
    case Csr.mtvec:
      // MODE >= 2 is reserved; like QEMU, a write asking for it is ignored entirely.
      if ((lo & 3) < 2) {
        s.mtvecLo = lo;
        s.mtvecHi = hi;
      }
      break;
    case Csr.mscratch:
      s.mscratchLo = lo;
      s.mscratchHi = hi;
      break;
    case Csr.mepc:
      // IALIGN = 32: bits 1:0 are zero (bit 1 becomes writable with C).
      s.mepcLo = lo & ~3;
      s.mepcHi = hi;
      break;
    case Csr.mcause:
      s.mcauseLo = lo;
      s.mcauseHi = hi;
      break;
    case Csr.mtval:
      s.mtvalLo = lo;
      s.mtvalHi = hi;
      break;
    case Csr.mcycle:
      s.mcycleBaseLo = lo;
      s.mcycleBaseHi = hi;
      s.mcycleBaseAt = s.cycles + pending;
      break;
    case Csr.minstret:
      s.minstretBaseLo = lo;
      s.minstretBaseHi = hi;
      s.minstretBaseAt = s.instret + pending;
      break;
    default:
      // misa (WARL, fixed), mcountinhibit and the zero HPM registers ignore writes.
      break;
  }
}

/**
 * Executes CSRRW/CSRRS/CSRRC/CSRRWI/CSRRSI/CSRRCI; `inst` is the raw instruction, `rd`
 * the decoded destination (SINK for x0). Returns false after raising illegal-instruction.
 * Rules (Zicsr, unpriv ch. 9): CSRRW[I] with rd = x0 does not read; CSRRS/CSRRC with
 * rs1 = x0 and CSRRSI/CSRRCI with uimm = 0 do not write, so they may read a read-only
 * CSR. Either way an absent CSR is illegal.
 */
export function csrInstruction(s: HartState, inst: number, rd: number): boolean {
  const csr = inst >>> 20;
  const f3 = (inst >>> 12) & 7;
  const field = (inst >>> 15) & 31;
  const kind = f3 & 3; // 1 = RW, 2 = RS, 3 = RC
  const writes = kind === 1 || field !== 0;
  // Bits 9:8 give the lowest privilege that may access, 11:10 = 3 marks read-only.
  if (((csr >>> 8) & 3) > s.priv || (writes && csr >>> 10 === 3) || !csrRead(s, csr)) {
    raiseException(s, Cause.IllegalInstruction, inst | 0, 0);
    return false;
  }
  const oldLo = s.csrLo;
  const oldHi = s.csrHi;
  if (writes) {
    // Source is read before rd is written: rd may equal rs1.
    const srcLo = f3 & 4 ? field : s.xl[field]!;
    const srcHi = f3 & 4 ? 0 : s.xh[field]!;
    let lo = srcLo;
    let hi = srcHi;
    if (kind === 2) {
      lo = oldLo | srcLo;
      hi = oldHi | srcHi;
    } else if (kind === 3) {
      lo = oldLo & ~srcLo;
      hi = oldHi & ~srcHi;
    }
    csrWrite(s, csr, lo, hi);
  }
  if (rd !== SINK) {
    s.xl[rd] = oldLo;
    s.xh[rd] = oldHi;
  }
  return true;
}
