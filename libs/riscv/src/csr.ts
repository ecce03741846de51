// Zicsr instructions and the CSR file of an M/S/U hart (privileged spec 1.12, ch. 2, 3.1,
// 3.7, 4.1; Zicntr; Sstc). A CSR this hart does not have is illegal-instruction, exactly
// as the spec says, because that is how firmware learns what is there: OpenSBI's hart
// feature probe reads and writes CSRs with a trap handler armed.
//
// Where the spec leaves a choice, QEMU 7.2's `virt` (the reference of DESIGN.md) decides:
// 16 PMP entries with pmpcfg0/pmpcfg2 and pmpaddr0..15 only (the others are illegal, as
// QEMU 7.2 has no CSR behind them), Sstc present, MPP keeps its value on a write of the
// reserved 2. The spec wins over QEMU where they differ: medeleg[11] is read-only zero,
// interrupts are taken in the spec's priority order.

import { SINK } from './decoder.js';
import { EPC_MASK, MISA_HI, MISA_LO } from './misa.js';
import { pmpUpdate, pmpWriteAddr, pmpWriteCfg } from './mmu/pmp.js';
import { SATP_BARE, SATP_SV39, SATP_SV48, updateTranslationMode } from './mmu/sv.js';
import { Irq, raiseException, Cause, updateMip, updateSstc } from './trap.js';
import { MENVCFG_STCE_HI, MIDELEG_H_FIXED, PRIV_M, PRIV_S, PRIV_U, type HartState } from './state.js';
import { csrLevel, hAccessFault, HCsr, hCsrRead, hCsrWrite, isSwappedVsCsr, VS_INTERRUPTS } from './hypervisor/csr.js';
import { swapSupervisor } from './hypervisor/virt.js';

export const Csr = {
  fflags: 0x001,
  frm: 0x002,
  fcsr: 0x003,
  seed: 0x015,
  cycle: 0xc00,
  time: 0xc01,
  instret: 0xc02,
  hpmcounter3: 0xc03,
  hpmcounter31: 0xc1f,
  sstatus: 0x100,
  sie: 0x104,
  stvec: 0x105,
  scounteren: 0x106,
  senvcfg: 0x10a,
  sscratch: 0x140,
  sepc: 0x141,
  scause: 0x142,
  stval: 0x143,
  sip: 0x144,
  stimecmp: 0x14d,
  satp: 0x180,
  mvendorid: 0xf11,
  marchid: 0xf12,
  mimpid: 0xf13,
  mhartid: 0xf14,
  mconfigptr: 0xf15,
  mstatus: 0x300,
  misa: 0x301,
  medeleg: 0x302,
  mideleg: 0x303,
  mie: 0x304,
  mtvec: 0x305,
  mcounteren: 0x306,
  menvcfg: 0x30a,
  mstatush: 0x310,
  menvcfgh: 0x31a,
  mcountinhibit: 0x320,
  mhpmevent3: 0x323,
  mhpmevent31: 0x33f,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  pmpcfg0: 0x3a0,
  pmpcfg2: 0x3a2,
  pmpcfg15: 0x3af,
  pmpaddr0: 0x3b0,
  pmpaddr15: 0x3bf,
  pmpaddr63: 0x3ef,
  mcycle: 0xb00,
  minstret: 0xb02,
  mhpmcounter3: 0xb03,
  mhpmcounter31: 0xb1f,
} as const;

export { MISA_HI, MISA_LO } from './misa.js';

/**
 * A CSR implemented by an extension's own module (F/D: fflags, frm, fcsr), so this file
 * need not know its state. `read` fills s.csrLo/s.csrHi and returns false when the access
 * is illegal now (e.g. mstatus.FS = Off); `write` applies a value csrRead accepted.
 */
export interface ExtensionCsr {
  read(s: HartState): boolean;
  write(s: HartState, lo: number, hi: number): void;
}
const EXTENSION_CSRS = new Map<number, ExtensionCsr>();

/** Plugs an extension's CSR into the file (called once, at module load). */
export function registerCsr(csr: number, ops: ExtensionCsr): void {
  EXTENSION_CSRS.set(csr, ops);
}

// mstatus bit positions (priv 3.1.6) in the low word; UXL/SXL/SD in the high word.
const SIE = 1;
const MIE = 3;
const SPIE = 5;
const MPIE = 7;
const SPP = 8;
const MPP = 11;
const FS = 13;
const MPRV = 17;
const SUM = 18;
const MXR = 19;
const TVM = 20;
const TW = 21;
const TSR = 22;
/** UXL = SXL = 2 (64-bit, fixed): bits 33:32 and 35:34 of mstatus. */
const MSTATUS_HI_XL = 0xa;
const SSTATUS_HI_XL = 0x2;

/** Interrupt bits M-mode may enable: the six of priv 3.1.9. */
const MIE_WRITABLE = (1 << Irq.SSI) | (1 << Irq.MSI) | (1 << Irq.STI) | (1 << Irq.MTI) | (1 << Irq.SEI) | (1 << Irq.MEI);
/** The S-level interrupts: what mideleg can delegate and sie/sip can show. */
const S_INTERRUPTS = (1 << Irq.SSI) | (1 << Irq.STI) | (1 << Irq.SEI);
/** Exceptions that can be delegated: all but 10, 14 (reserved) and 11 (ECALL from M can
 *  only be taken in M, so medeleg[11] is read-only zero, priv 3.1.8). */
const MEDELEG_WRITABLE = 0xb3ff;
/** With H also ECALL from VS (10), the guest-page faults (20, 21, 23) and virtual
 *  instruction (22) can go to HS. */
const MEDELEG_WRITABLE_H = MEDELEG_WRITABLE | (1 << 10) | (0xf << 20);
/** misa.H (bit 7), set on a hart built with H. */
const MISA_H = 1 << 7;
/** mstatus.MPV (bit 39) and GVA (bit 38) as bits of the high word. */
const MPV_HI = 7;
const GVA_HI = 6;

const TWO32 = 4294967296;

/** Privilege modes mstatus.MPP may hold (WARL). */
function privSupported(p: number): boolean {
  return p === PRIV_M || p === PRIV_S || p === PRIV_U;
}

/** mstatus (or its sstatus view) as the pair s.csrLo/s.csrHi. */
function readStatus(s: HartState, machine: boolean): void {
  let lo = (s.mstatusSie << SIE) | (s.mstatusSpie << SPIE) | (s.mstatusSpp << SPP) | (s.mstatusFs << FS);
  lo |= (s.mstatusSum << SUM) | (s.mstatusMxr << MXR);
  let hi = SSTATUS_HI_XL;
  if (machine) {
    lo |= (s.mstatusMie << MIE) | (s.mstatusMpie << MPIE) | (s.mstatusMpp << MPP) | (s.mstatusMprv << MPRV);
    lo |= (s.mstatusTvm << TVM) | (s.mstatusTw << TW) | (s.mstatusTsr << TSR);
    hi = MSTATUS_HI_XL;
    if (s.h !== null) hi |= (s.h.mpv << MPV_HI) | (s.h.gva << GVA_HI);
  }
  // SD summarizes FS/XS/VS = Dirty (3); XS and VS are always 0 here.
  if (s.mstatusFs === 3) hi |= 0x80000000;
  s.csrLo = lo;
  s.csrHi = hi | 0;
}

/** Writes mstatus (machine) or the sstatus subset, then re-derives translation state. */
function writeStatus(s: HartState, lo: number, hi: number, machine: boolean): void {
  const oldMxr = s.mstatusMxr;
  s.mstatusSie = (lo >>> SIE) & 1;
  s.mstatusSpie = (lo >>> SPIE) & 1;
  s.mstatusSpp = (lo >>> SPP) & 1;
  s.mstatusFs = (lo >>> FS) & 3;
  s.mstatusSum = (lo >>> SUM) & 1;
  s.mstatusMxr = (lo >>> MXR) & 1;
  if (machine) {
    s.mstatusMie = (lo >>> MIE) & 1;
    s.mstatusMpie = (lo >>> MPIE) & 1;
    // WARL: an unsupported mode (2) leaves MPP unchanged (as QEMU's legalize_mpp).
    const mpp = (lo >>> MPP) & 3;
    if (privSupported(mpp)) s.mstatusMpp = mpp;
    s.mstatusMprv = (lo >>> MPRV) & 1;
    s.mstatusTvm = (lo >>> TVM) & 1;
    s.mstatusTw = (lo >>> TW) & 1;
    s.mstatusTsr = (lo >>> TSR) & 1;
    if (s.h !== null) {
      s.h.mpv = (hi >>> MPV_HI) & 1;
      s.h.gva = (hi >>> GVA_HI) & 1;
    }
  }
  // TLB flush point: MXR widens what loads may read. SUM, MPRV and MPP only choose the
  // TLB set, which updateTranslationMode does.
  if (s.mstatusMxr !== oldMxr) s.tlb.flushReads();
  updateTranslationMode(s);
  // Interrupt enables may have changed: let the outer loop look.
  s.brk = true;
}

/** May the current mode access counter `csr` (0xc00..0xc1f)? Zicntr: below M it needs
 *  its mcounteren bit; in U also its scounteren bit. */
function counterEnabled(s: HartState, csr: number): boolean {
  const bit = 1 << (csr & 31);
  if (s.priv < PRIV_M && (s.mcounteren & bit) === 0) return false;
  if (s.priv === PRIV_U && (s.scounteren & bit) === 0) return false;
  return true;
}

/** Access rules beyond the number's own privilege and read-only bits. */
function accessAllowed(s: HartState, csr: number): boolean {
  if (csr >= Csr.cycle && csr <= Csr.hpmcounter31) return counterEnabled(s, csr);
  // TVM traps every satp access from S-mode (priv 3.1.6.5).
  if (csr === Csr.satp) return !(s.priv === PRIV_S && s.mstatusTvm !== 0);
  // Sstc: S-mode needs both mcounteren.TM and menvcfg.STCE.
  if (csr === Csr.stimecmp) {
    return s.priv === PRIV_M || ((s.mcounteren & 2) !== 0 && (s.menvcfgHi & MENVCFG_STCE_HI) !== 0);
  }
  return true;
}

/** Reads a CSR into s.csrLo/s.csrHi; false when it does not exist. No side effects. */
export function csrRead(s: HartState, csr: number): boolean {
  if (s.h !== null && isSwappedVsCsr(csr)) {
    // A VS register: live in the S fields while V=1, else waiting in HState.
    if (s.virt !== 0) return csrRead(s, csr - 0x100);
    swapSupervisor(s, s.h);
    const ok = csrRead(s, csr - 0x100);
    swapSupervisor(s, s.h);
    return ok;
  }
  let lo = 0;
  let hi = 0;
  switch (csr) {
    case Csr.mstatus:
      readStatus(s, true);
      return true;
    case Csr.sstatus:
      readStatus(s, false);
      return true;
    case Csr.misa:
      lo = s.h !== null ? MISA_LO | MISA_H : MISA_LO;
      hi = MISA_HI;
      break;
    case Csr.mvendorid:
    case Csr.marchid:
    case Csr.mimpid:
    case Csr.mconfigptr:
      break;
    case Csr.mhartid:
      lo = s.hartId;
      break;
    case Csr.medeleg:
      lo = s.medeleg;
      break;
    case Csr.mideleg:
      lo = s.mideleg;
      break;
    case Csr.mie:
      lo = s.mie;
      break;
    case Csr.sie:
      if (s.virt !== 0) return hCsrRead(s, HCsr.vsie);
      lo = s.mie & s.mideleg & S_INTERRUPTS;
      break;
    case Csr.mip:
      lo = s.mip;
      break;
    case Csr.sip:
      if (s.virt !== 0) return hCsrRead(s, HCsr.vsip);
      lo = s.mip & s.mideleg & S_INTERRUPTS;
      break;
    case Csr.mtvec:
      lo = s.mtvecLo;
      hi = s.mtvecHi;
      break;
    case Csr.stvec:
      lo = s.stvecLo;
      hi = s.stvecHi;
      break;
    case Csr.mscratch:
      lo = s.mscratchLo;
      hi = s.mscratchHi;
      break;
    case Csr.sscratch:
      lo = s.sscratchLo;
      hi = s.sscratchHi;
      break;
    case Csr.mepc:
      lo = s.mepcLo;
      hi = s.mepcHi;
      break;
    case Csr.sepc:
      lo = s.sepcLo;
      hi = s.sepcHi;
      break;
    case Csr.mcause:
      lo = s.mcauseLo;
      hi = s.mcauseHi;
      break;
    case Csr.scause:
      lo = s.scauseLo;
      hi = s.scauseHi;
      break;
    case Csr.mtval:
      lo = s.mtvalLo;
      hi = s.mtvalHi;
      break;
    case Csr.stval:
      lo = s.stvalLo;
      hi = s.stvalHi;
      break;
    case Csr.satp:
      lo = s.satpLo;
      hi = s.satpHi;
      break;
    case Csr.mcounteren:
      lo = s.mcounteren;
      break;
    case Csr.scounteren:
      lo = s.scounteren;
      break;
    case Csr.mcountinhibit:
      lo = s.mcountinhibit;
      break;
    case Csr.menvcfg:
      lo = s.menvcfgLo;
      hi = s.menvcfgHi;
      break;
    case Csr.senvcfg:
      lo = s.senvcfg;
      break;
    case Csr.stimecmp:
      if (s.virt !== 0) return hCsrRead(s, HCsr.vstimecmp);
      if (s.timeSource === null) return false;
      lo = s.stimecmpLo;
      hi = s.stimecmpHi;
      break;
    case Csr.time:
      // Present only when the platform gives the hart a clock (as QEMU's rdtime_fn).
      if (s.timeSource === null) return false;
      s.timeReads++;
      numberToCsr(s, s.timeSource());
      // VS and VU read the guest's time: htimedelta added, modulo 2^64 (priv H 8.2.7).
      if (s.virt !== 0) counterValue(s, s.h!.htimedeltaLo, s.h!.htimedeltaHi, s.timeSource());
      return true;
    case Csr.mcycle:
    case Csr.cycle:
      counterValue(s, s.mcycleBaseLo, s.mcycleBaseHi, (s.mcountinhibit & 1) !== 0 ? 0 : s.cycles - s.mcycleBaseAt);
      return true;
    case Csr.minstret:
    case Csr.instret:
      counterValue(s, s.minstretBaseLo, s.minstretBaseHi, (s.mcountinhibit & 4) !== 0 ? 0 : s.instret - s.minstretBaseAt);
      return true;
    case Csr.pmpcfg0:
    case Csr.pmpcfg2: {
      const first = (csr - Csr.pmpcfg0) * 4;
      const c = s.pmpCfg;
      lo = c[first]! | (c[first + 1]! << 8) | (c[first + 2]! << 16) | (c[first + 3]! << 24);
      hi = c[first + 4]! | (c[first + 5]! << 8) | (c[first + 6]! << 16) | (c[first + 7]! << 24);
      break;
    }
    default: {
      if (csr >= Csr.pmpaddr0 && csr <= Csr.pmpaddr15) {
        s.csrLo = s.pmpAddrLo[csr - Csr.pmpaddr0]!;
        s.csrHi = s.pmpAddrHi[csr - Csr.pmpaddr0]!;
        return true;
      }
      // The hardware performance monitor is present but every counter and event selector
      // is read-only zero, a legal implementation (priv 3.1.10).
      if (
        (csr >= Csr.hpmcounter3 && csr <= Csr.hpmcounter31) ||
        (csr >= Csr.mhpmcounter3 && csr <= Csr.mhpmcounter31) ||
        (csr >= Csr.mhpmevent3 && csr <= Csr.mhpmevent31)
      ) {
        break;
      }
      const ext = EXTENSION_CSRS.get(csr);
      if (ext !== undefined) return ext.read(s);
      if (s.h !== null) return hCsrRead(s, csr);
      return false;
    }
  }
  s.csrLo = lo;
  s.csrHi = hi;
  return true;
}

/** A non-negative count below 2^53 as the pair s.csrLo/s.csrHi. */
function numberToCsr(s: HartState, v: number): void {
  s.csrLo = (v % TWO32) | 0;
  s.csrHi = Math.floor(v / TWO32) | 0;
}

/** base + delta as 64 bits into s.csrLo/s.csrHi (delta is a non-negative count < 2^53). */
function counterValue(s: HartState, baseLo: number, baseHi: number, delta: number): void {
  const dLo = delta % TWO32;
  const sum = (baseLo >>> 0) + dLo;
  s.csrLo = sum | 0;
  s.csrHi = (baseHi + Math.floor(delta / TWO32) + (sum > 0xffffffff ? 1 : 0)) | 0;
}

/** Writes a CSR that csrRead accepted and that is not read-only, applying WARL rules.
 *  A counter written by an instruction holds the written value for the next one: the
 *  writer's own increment comes first (priv 3.1.11), hence `pending` = 1 from csrInstruction
 *  and 0 from a debugger write between instructions. */
export function csrWrite(s: HartState, csr: number, lo: number, hi: number, pending = 1): void {
  if (s.h !== null && isSwappedVsCsr(csr)) {
    if (s.virt !== 0) {
      csrWrite(s, csr - 0x100, lo, hi, pending);
      return;
    }
    swapSupervisor(s, s.h);
    csrWrite(s, csr - 0x100, lo, hi, pending);
    swapSupervisor(s, s.h);
    // What the write re-derived was for the VS set; derive it again for the live one.
    updateTranslationMode(s);
    return;
  }
  switch (csr) {
    case Csr.mstatus:
      writeStatus(s, lo, hi, true);
      break;
    case Csr.sstatus:
      writeStatus(s, lo, hi, false);
      break;
    case Csr.medeleg:
      s.medeleg = lo & (s.h !== null ? MEDELEG_WRITABLE_H : MEDELEG_WRITABLE);
      break;
    case Csr.mideleg:
      s.mideleg = s.h !== null ? (lo & S_INTERRUPTS) | MIDELEG_H_FIXED : lo & S_INTERRUPTS;
      s.brk = true;
      break;
    case Csr.mie:
      s.mie = lo & (s.h !== null ? MIE_WRITABLE | VS_INTERRUPTS | (1 << Irq.SGEI) : MIE_WRITABLE);
      s.brk = true;
      break;
    case Csr.sie:
      if (s.virt !== 0) {
        hCsrWrite(s, HCsr.vsie, lo, hi);
        break;
      }
      s.mie = (s.mie & ~s.mideleg) | (lo & s.mideleg & S_INTERRUPTS);
      s.brk = true;
      break;
    case Csr.mip: {
      // MSIP/MTIP/MEIP are driven by CLINT and PLIC; M-mode may inject the S-level ones
      // (priv 3.1.9). Writing SEIP sets its software half; the PLIC's half is ORed in.
      // With Sstc enabled (menvcfg.STCE) STIP follows stimecmp and is read-only.
      // With H, also VSSIP (an alias of hvip.VSSIP; VSTIP and VSEIP are read-only here).
      let mask = s.h !== null ? S_INTERRUPTS | (1 << Irq.VSSI) : S_INTERRUPTS;
      if ((s.menvcfgHi & MENVCFG_STCE_HI) !== 0) mask &= ~(1 << Irq.STI);
      s.mipSw = (s.mipSw & ~mask) | (lo & mask);
      updateMip(s);
      break;
    }
    case Csr.sip: {
      if (s.virt !== 0) {
        hCsrWrite(s, HCsr.vsip, lo, hi);
        break;
      }
      // Only SSIP is writable from S-mode, and only while delegated.
      const mask = (1 << Irq.SSI) & s.mideleg;
      s.mipSw = (s.mipSw & ~mask) | (lo & mask);
      updateMip(s);
      break;
    }
    case Csr.mtvec:
      // MODE >= 2 is reserved; like QEMU, a write asking for it is ignored entirely.
      if ((lo & 3) < 2) {
        s.mtvecLo = lo;
        s.mtvecHi = hi;
      }
      break;
    case Csr.stvec:
      if ((lo & 3) < 2) {
        s.stvecLo = lo;
        s.stvecHi = hi;
      }
      break;
    case Csr.mscratch:
      s.mscratchLo = lo;
      s.mscratchHi = hi;
      break;
    case Csr.sscratch:
      s.sscratchLo = lo;
      s.sscratchHi = hi;
      break;
    case Csr.mepc:
      s.mepcLo = lo & EPC_MASK;
      s.mepcHi = hi;
      break;
    case Csr.sepc:
      s.sepcLo = lo & EPC_MASK;
      s.sepcHi = hi;
      break;
    case Csr.mcause:
      s.mcauseLo = lo;
      s.mcauseHi = hi;
      break;
    case Csr.scause:
      s.scauseLo = lo;
      s.scauseHi = hi;
      break;
    case Csr.mtval:
      s.mtvalLo = lo;
      s.mtvalHi = hi;
      break;
    case Csr.stval:
      s.stvalLo = lo;
      s.stvalHi = hi;
      break;
    case Csr.satp: {
      // WARL (priv 4.1.11): a MODE this hart lacks (Sv57, Sv64, reserved) leaves satp
      // entirely unchanged. Flush point: every cached translation may be stale.
      const mode = hi >>> 28;
      if (mode !== SATP_BARE && mode !== SATP_SV39 && mode !== SATP_SV48) break;
      s.satpLo = lo;
      s.satpHi = hi;
      s.tlb.flushAll();
      updateTranslationMode(s);
      s.brk = true;
      break;
    }
    case Csr.mcounteren:
      s.mcounteren = lo;
      break;
    case Csr.scounteren:
      s.scounteren = lo;
      break;
    case Csr.mcountinhibit: {
      // Freezing a counter keeps its value as the new base; thawing restarts the count.
      const was = s.mcountinhibit;
      const now = lo & ~2; // bit 1 (TM) is read-only zero
      if (((was ^ now) & 1) !== 0) {
        csrRead(s, Csr.mcycle);
        s.mcycleBaseLo = s.csrLo;
        s.mcycleBaseHi = s.csrHi;
        s.mcycleBaseAt = s.cycles + pending;
      }
      if (((was ^ now) & 4) !== 0) {
        csrRead(s, Csr.minstret);
        s.minstretBaseLo = s.csrLo;
        s.minstretBaseHi = s.csrHi;
        s.minstretBaseAt = s.instret + pending;
      }
      s.mcountinhibit = now;
      break;
    }
    case Csr.menvcfg:
      // FIOM, and STCE (Sstc). CBIE/CBCFE/CBZE (no Zicbom/Zicboz) and PBMTE (no Svpbmt)
      // are read-only zero.
      s.menvcfgLo = lo & 1;
      s.menvcfgHi = hi & MENVCFG_STCE_HI;
      updateSstc(s);
      break;
    case Csr.senvcfg:
      s.senvcfg = lo & 1;
      break;
    case Csr.stimecmp:
      if (s.virt !== 0) {
        hCsrWrite(s, HCsr.vstimecmp, lo, hi);
        break;
      }
      s.stimecmpLo = lo;
      s.stimecmpHi = hi;
      updateSstc(s);
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
    case Csr.pmpcfg0:
    case Csr.pmpcfg2: {
      const first = (csr - Csr.pmpcfg0) * 4;
      for (let i = 0; i < 4; i++) pmpWriteCfg(s, first + i, (lo >>> (8 * i)) & 0xff);
      for (let i = 0; i < 4; i++) pmpWriteCfg(s, first + 4 + i, (hi >>> (8 * i)) & 0xff);
      pmpChanged(s);
      break;
    }
    default: {
      if (csr >= Csr.pmpaddr0 && csr <= Csr.pmpaddr15) {
        pmpWriteAddr(s, csr - Csr.pmpaddr0, lo, hi);
        pmpChanged(s);
        break;
      }
      // misa (WARL, fixed), the IDs and the zero HPM registers ignore writes.
      const ext = EXTENSION_CSRS.get(csr);
      if (ext !== undefined) ext.write(s, lo, hi);
      else if (s.h !== null) hCsrWrite(s, csr, lo, hi);
      break;
    }
  }
}

/** TLB flush point: every cached page was checked against the old PMP entries. */
function pmpChanged(s: HartState): void {
  pmpUpdate(s);
  s.tlb.flushAll();
  updateTranslationMode(s);
  s.brk = true;
}

/**
 * Executes CSRRW/CSRRS/CSRRC/CSRRWI/CSRRSI/CSRRCI; `inst` is the raw instruction, `rd`
 * the decoded destination (SINK for x0). Returns false after raising illegal-instruction.
 * Rules (Zicsr, unpriv ch. 9): CSRRW[I] with rd = x0 does not read; CSRRS/CSRRC with
 * rs1 = x0 and CSRRSI/CSRRCI with uimm = 0 do not write, so they may read a read-only
 * CSR. Either way an absent CSR is illegal, and so is one the mode may not touch.
 */
export function csrInstruction(s: HartState, inst: number, rd: number): boolean {
  const csr = inst >>> 20;
  const f3 = (inst >>> 12) & 7;
  const field = (inst >>> 15) & 31;
  const kind = f3 & 3; // 1 = RW, 2 = RS, 3 = RC
  const writes = kind === 1 || field !== 0;
  // Bits 9:8 give the lowest privilege that may access, 11:10 = 3 marks read-only.
  if (s.h !== null) {
    const fault = hartWithHAccess(s, csr, writes);
    if (fault !== 0) {
      raiseException(s, fault, inst | 0, 0);
      return false;
    }
  } else if (((csr >>> 8) & 3) > s.priv || (writes && csr >>> 10 === 3) || !accessAllowed(s, csr) || !csrRead(s, csr)) {
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

/** csrInstruction's access check on a hart with H: 0, or the cause to raise. An absent
 *  CSR and a write to a read-only one are illegal; a CSR above the mode's level is a
 *  virtual instruction when HS-mode (or U-mode, for VU) could have accessed it, else
 *  illegal (priv H 8.6.1). */
function hartWithHAccess(s: HartState, csr: number, writes: boolean): number {
  if (!csrRead(s, csr) || (writes && csr >>> 10 === 3)) return Cause.IllegalInstruction;
  const level = (csr >>> 8) & 3;
  if (level > csrLevel(s)) return s.virt !== 0 && level <= 2 ? Cause.VirtualInstruction : Cause.IllegalInstruction;
  return hAccessFault(s, csr);
}
