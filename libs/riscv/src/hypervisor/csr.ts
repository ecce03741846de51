// The hypervisor and VS CSRs (priv H 8.2), for a hart built with H. csr.ts calls in here
// for the numbers it does not know, and for the S CSRs whose V=1 meaning is a view rather
// than a swapped register (sie, sip, stimecmp). The swapped VS registers (vsstatus,
// vstvec, vsscratch, vsepc, vscause, vstval, vsatp) are reached by csr.ts itself.

import { Cause } from '../cause.js';
import { MENVCFG_STCE_HI, PRIV_M, PRIV_S, PRIV_U, type HartState } from '../state.js';
import { updateTranslationMode } from '../mmu/sv.js';
import { updateMip, updateSstc } from '../trap.js';
import { HGATP_BARE, HGATP_SV39X4, HGATP_SV48X4, HSTATUS_HI_VSXL, HSTATUS_VTVM, HSTATUS_WRITABLE } from './state.js';

export const HCsr = {
  vsstatus: 0x200,
  vsie: 0x204,
  vstvec: 0x205,
  vsscratch: 0x240,
  vsepc: 0x241,
  vscause: 0x242,
  vstval: 0x243,
  vsip: 0x244,
  vstimecmp: 0x24d,
  vsatp: 0x280,
  hstatus: 0x600,
  hedeleg: 0x602,
  hideleg: 0x603,
  hie: 0x604,
  htimedelta: 0x605,
  hcounteren: 0x606,
  hgeie: 0x607,
  henvcfg: 0x60a,
  htval: 0x643,
  hip: 0x644,
  hvip: 0x645,
  htinst: 0x64a,
  hgatp: 0x680,
  hgeip: 0xe12,
  mtinst: 0x34a,
  mtval2: 0x34b,
} as const;

/** VS-level interrupt bits (VSSI, VSTI, VSEI) of mip/mie/hvip/hideleg. */
export const VS_INTERRUPTS = (1 << 2) | (1 << 6) | (1 << 10);
/** What hip/hie show: the VS-level bits and SGEI. */
const HS_INTERRUPTS = VS_INTERRUPTS | (1 << 12);
/** hedeleg: what medeleg can delegate except the ECALLs from S/VS/M and the guest-page and
 *  virtual-instruction faults, which must reach HS (priv H 8.2.2). */
const HEDELEG_WRITABLE = 0xb1ff;

/** The VS registers kept by the swap: number minus 0x100 is their S counterpart. */
export function isSwappedVsCsr(csr: number): boolean {
  return csr === 0x200 || csr === 0x205 || (csr >= 0x240 && csr <= 0x243) || csr === 0x280;
}

/** Reads an H-only CSR (or the V=1 view of sie/sip/stimecmp) into s.csrLo/s.csrHi. */
export function hCsrRead(s: HartState, csr: number): boolean {
  const h = s.h!;
  let lo = 0;
  let hi = 0;
  switch (csr) {
    case HCsr.hstatus:
      lo = h.hstatus;
      hi = HSTATUS_HI_VSXL;
      break;
    case HCsr.hedeleg:
      lo = h.hedeleg;
      break;
    case HCsr.hideleg:
      lo = h.hideleg;
      break;
    case HCsr.hie:
      lo = s.mie & HS_INTERRUPTS;
      break;
    case HCsr.hip:
      lo = s.mip & HS_INTERRUPTS;
      break;
    case HCsr.hvip:
      lo = s.mipSw & VS_INTERRUPTS;
      break;
    case HCsr.vsie:
      // VS-mode sees its interrupts at the S positions (priv H 8.2.12).
      lo = (s.mie & h.hideleg & VS_INTERRUPTS) >>> 1;
      break;
    case HCsr.vsip:
      lo = (s.mip & h.hideleg & VS_INTERRUPTS) >>> 1;
      break;
    case HCsr.htimedelta:
      lo = h.htimedeltaLo;
      hi = h.htimedeltaHi;
      break;
    case HCsr.hcounteren:
      lo = h.hcounteren;
      break;
    case HCsr.hgeie:
    case HCsr.hgeip:
      break; // GEILEN = 0: no guest external interrupt lines
    case HCsr.henvcfg:
      lo = h.henvcfgLo;
      hi = h.henvcfgHi;
      break;
    case HCsr.htval:
      lo = h.htvalLo;
      hi = h.htvalHi;
      break;
    case HCsr.htinst:
      lo = h.htinstLo;
      hi = h.htinstHi;
      break;
    case HCsr.hgatp:
      lo = h.hgatpLo;
      hi = h.hgatpHi;
      break;
    case HCsr.mtval2:
      lo = h.mtval2Lo;
      hi = h.mtval2Hi;
      break;
    case HCsr.mtinst:
      lo = h.mtinstLo;
      hi = h.mtinstHi;
      break;
    case HCsr.vstimecmp:
      if (s.timeSource === null) return false;
      lo = h.vstimecmpLo;
      hi = h.vstimecmpHi;
      break;
    default:
      return false;
  }
  s.csrLo = lo;
  s.csrHi = hi;
  return true;
}

/** Writes a CSR hCsrRead accepted, with its WARL rules. */
export function hCsrWrite(s: HartState, csr: number, lo: number, hi: number): void {
  const h = s.h!;
  switch (csr) {
    case HCsr.hstatus:
      h.hstatus = lo & HSTATUS_WRITABLE;
      break;
    case HCsr.hedeleg:
      h.hedeleg = lo & HEDELEG_WRITABLE;
      break;
    case HCsr.hideleg:
      h.hideleg = lo & VS_INTERRUPTS;
      s.brk = true;
      break;
    case HCsr.hie:
      s.mie = (s.mie & ~HS_INTERRUPTS) | (lo & HS_INTERRUPTS);
      s.brk = true;
      break;
    case HCsr.hip:
      // Only VSSIP is writable here (an alias of hvip.VSSIP).
      s.mipSw = (s.mipSw & ~4) | (lo & 4);
      updateMip(s);
      break;
    case HCsr.hvip:
      s.mipSw = (s.mipSw & ~VS_INTERRUPTS) | (lo & VS_INTERRUPTS);
      updateMip(s);
      break;
    case HCsr.vsie: {
      const mask = h.hideleg & VS_INTERRUPTS;
      s.mie = (s.mie & ~mask) | ((lo << 1) & mask);
      s.brk = true;
      break;
    }
    case HCsr.vsip: {
      // VS-mode may set or clear only its software interrupt, and only when delegated.
      const mask = h.hideleg & 4;
      s.mipSw = (s.mipSw & ~mask) | ((lo << 1) & mask);
      updateMip(s);
      break;
    }
    case HCsr.htimedelta:
      h.htimedeltaLo = lo;
      h.htimedeltaHi = hi;
      updateSstc(s);
      break;
    case HCsr.hcounteren:
      h.hcounteren = lo;
      break;
    case HCsr.henvcfg:
      // FIOM, and STCE only while menvcfg.STCE allows it.
      h.henvcfgLo = lo & 1;
      h.henvcfgHi = hi & MENVCFG_STCE_HI & s.menvcfgHi;
      updateSstc(s);
      break;
    case HCsr.htval:
      h.htvalLo = lo;
      h.htvalHi = hi;
      break;
    case HCsr.htinst:
      h.htinstLo = lo;
      h.htinstHi = hi;
      break;
    case HCsr.hgatp: {
      // WARL like satp: an unsupported MODE leaves hgatp unchanged. PPN bits 1:0 read as
      // zero (the root table is 16 KiB, aligned); bits 59:58 are zero; VMID is 14 bits.
      const mode = hi >>> 28;
      if (mode !== HGATP_BARE && mode !== HGATP_SV39X4 && mode !== HGATP_SV48X4) break;
      h.hgatpLo = lo & ~3;
      h.hgatpHi = hi & 0xf3ffffff;
      // Flush point: every guest translation went through the old G-stage.
      s.tlb.flushAll();
      updateTranslationMode(s);
      s.brk = true;
      break;
    }
    case HCsr.mtval2:
      h.mtval2Lo = lo;
      h.mtval2Hi = hi;
      break;
    case HCsr.mtinst:
      h.mtinstLo = lo;
      h.mtinstHi = hi;
      break;
    case HCsr.vstimecmp:
      h.vstimecmpLo = lo;
      h.vstimecmpHi = hi;
      updateSstc(s);
      break;
    default:
      break; // hgeie, hgeip: read-only zero
  }
}

const OK = 0;

/**
 * Extra access rules of a hart with H, beyond the privilege in the CSR number (which
 * csr.ts checks with the V-aware rule). Returns 0, or the cause to raise: illegal
 * instruction where HS-mode could not do it either, virtual instruction where only V=1
 * stands in the way (priv H 8.6.1, "Virtual-Instruction Exceptions").
 */
export function hAccessFault(s: HartState, csr: number): number {
  const h = s.h!;
  const v = s.virt !== 0;
  if (csr >= 0xc00 && csr <= 0xc1f) {
    const bit = 1 << (csr & 31);
    if (s.priv < PRIV_M && (s.mcounteren & bit) === 0) return Cause.IllegalInstruction;
    if (v && (h.hcounteren & bit) === 0) return Cause.VirtualInstruction;
    if (s.priv === PRIV_U && (s.scounteren & bit) === 0) return v ? Cause.VirtualInstruction : Cause.IllegalInstruction;
    return OK;
  }
  if (csr === 0x180) {
    // satp: TVM binds HS; with V=1 it is vsatp and VTVM binds VS.
    if (v) return s.priv === PRIV_S && (h.hstatus & HSTATUS_VTVM) !== 0 ? Cause.VirtualInstruction : OK;
    return s.priv === PRIV_S && s.mstatusTvm !== 0 ? Cause.IllegalInstruction : OK;
  }
  if (csr === HCsr.hgatp) return s.priv === PRIV_S && s.mstatusTvm !== 0 ? Cause.IllegalInstruction : OK;
  if (csr === 0x14d) {
    // stimecmp, or vstimecmp with V=1 (Sstc): TM and STCE at each level.
    if (s.priv === PRIV_M) return OK;
    if ((s.mcounteren & 2) === 0 || (s.menvcfgHi & MENVCFG_STCE_HI) === 0) return Cause.IllegalInstruction;
    if (v && ((h.hcounteren & 2) === 0 || (h.henvcfgHi & MENVCFG_STCE_HI) === 0)) return Cause.VirtualInstruction;
    return OK;
  }
  return OK;
}

/** The lowest CSR privilege level (bits 9:8 of the number) the current mode may access:
 *  M 3, HS 2, VS 1, U and VU 0. */
export function csrLevel(s: HartState): number {
  if (s.priv === PRIV_M) return 3;
  if (s.priv === PRIV_S) return s.virt !== 0 ? 1 : 2;
  return PRIV_U;
}
