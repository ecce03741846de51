// Sv39 and Sv48 address translation (priv 1.12, 4.3-4.5), with the PMP check of the
// final access, for every access the TLB does not already answer. Addresses are signed
// exact doubles (see state.ts): a canonical Sv39 VA lies in [-2^38, 2^38), Sv48 in
// [-2^47, 2^47), and anything else is a page fault.
//
// As QEMU does: A and D are set by the walk itself (Svade is absent), in place, which is
// atomic because one hart runs at a time per RAM; PTE bits 63:54 (N, PBMT, reserved) must
// be zero as neither Svnapot nor Svpbmt is implemented; a non-leaf PTE with D, A or U set
// is a page fault. Where QEMU and the spec differ the spec wins: reading a PTE from
// outside RAM, or against PMP, is an access fault (QEMU 7.2 reports a page fault for the
// former).

import { PRIV_M, PRIV_S, PRIV_U, type HartState } from '../state.js';
import { Cause } from '../cause.js';
import { gStage, G_ALLOWED, G_SPAN } from '../hypervisor/gstage.js';
import { hsMxr, vsatpHi, vsatpLo, vsMxr, vsSum } from '../hypervisor/virt.js';
import { pmpCheck, pmpPagePerms, PMP_R, PMP_W, PMP_X } from './pmp.js';
import { SET_M, SET_S, SET_S_SUM, SET_U, SET_VS, SET_VS_SUM, SET_VU, tlbFill } from './tlb.js';

export const ACC_FETCH = 0;
export const ACC_LOAD = 1;
export const ACC_STORE = 2;

/** translate() results below zero. */
export const PAGE_FAULT = -1;
export const ACCESS_FAULT = -2;
/** H extension: the G-stage refused; the guest-physical address is in s.h.trapGpa. */
export const GUEST_PAGE_FAULT = -3;

const PAGE_CAUSE = [Cause.FetchPageFault, Cause.LoadPageFault, Cause.StorePageFault];
const ACCESS_CAUSE = [Cause.FetchAccess, Cause.LoadAccess, Cause.StoreAccess];
const GUEST_CAUSE = [Cause.FetchGuestPageFault, Cause.LoadGuestPageFault, Cause.StoreGuestPageFault];

/** The exception of a translate() failure `code` for an access of kind `acc`. */
export function faultCause(code: number, acc: number): number {
  return code === PAGE_FAULT ? PAGE_CAUSE[acc]! : code === ACCESS_FAULT ? ACCESS_CAUSE[acc]! : GUEST_CAUSE[acc]!;
}

export const SATP_BARE = 0;
export const SATP_SV39 = 8;
export const SATP_SV48 = 9;

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_A = 64;
const PTE_D = 128;

const TWO32 = 4294967296;
const TWO22 = 4194304;
/** Physical addresses at or above this are not exact doubles; nothing lives there. */
const PA_LIMIT = 2 ** 53;

/** The TLB set for accesses at `priv` (SUM only matters to S-mode data accesses); with
 *  `virt` (H extension, V=1 or MPRV with MPV) the two-stage contexts. */
export function tlbSetIndex(priv: number, sum: number, virt = 0): number {
  if (virt !== 0) return priv === PRIV_U ? SET_VU : sum !== 0 ? SET_VS_SUM : SET_VS;
  if (priv === PRIV_U) return SET_U;
  if (priv === PRIV_S) return sum !== 0 ? SET_S_SUM : SET_S;
  return SET_M;
}

/** satp.MODE (0 Bare, 8 Sv39, 9 Sv48). */
export function satpMode(s: HartState): number {
  return s.satpHi >>> 28;
}

/**
 * Re-derives which accesses translate and which TLB sets they use, after anything that
 * changes them: the privilege (trap, xRET), mstatus (MPRV, MPP, SUM), satp, PMP.
 */
export function updateTranslationMode(s: HartState): void {
  const mprv = s.priv === PRIV_M && s.mstatusMprv !== 0;
  const dPriv = mprv ? s.mstatusMpp : s.priv;
  // MPRV with MPV (and MPP below M) makes M's loads and stores those of VS/VU (priv H 8.3).
  const dVirt = s.h === null ? 0 : mprv ? (dPriv !== PRIV_M ? s.h.mpv : 0) : s.virt;
  s.dPriv = dPriv;
  s.dVirt = dVirt;
  s.dataVm = dPriv !== PRIV_M || s.pmpLocked;
  s.fetchVm = s.priv !== PRIV_M || s.pmpLocked;
  // With V=0 and MPV, vsstatus.SUM waits in HState (the swap).
  const sum = dVirt !== 0 && s.virt === 0 ? s.h!.bkSum : s.mstatusSum;
  s.dSet = s.tlb.sets[tlbSetIndex(dPriv, sum, dVirt)]!;
  s.fSet = s.tlb.sets[tlbSetIndex(s.priv, 0, s.virt)]!;
}

/** True when an access at `priv` (with `virt`: a VS/VU access) goes through page tables. */
export function pagingOn(s: HartState, priv: number, virt = 0): boolean {
  if (virt !== 0) return vsatpHi(s) >>> 28 !== SATP_BARE || s.h!.hgatpHi >>> 28 !== 0;
  return priv !== PRIV_M && satpMode(s) !== SATP_BARE;
}

/**
 * Translates `va` for an access of `size` bytes (all inside one page) of kind `acc` at
 * privilege `priv` (MPRV already applied for data), and checks PMP for the physical
 * bytes. Returns the physical address, or PAGE_FAULT / ACCESS_FAULT. When the whole page
 * may be cached (it is RAM and PMP treats it uniformly) the TLB set of that context is
 * filled for the access types the mapping allows.
 */
export function translate(s: HartState, va: number, size: number, acc: number, priv: number, virt = 0): number {
  s.walks++;
  let pa: number;
  // Which access types the mapping allows (PMP_* bits), and the page size in 4 KiB pages.
  let allowed = PMP_R | PMP_W | PMP_X;
  let span = 1;
  if (virt !== 0) {
    pa = walkTwoStage(s, va, acc, priv);
    if (pa < 0) return pa;
    allowed = WALK_ALLOWED;
    span = WALK_SPAN;
  } else if (!pagingOn(s, priv)) {
    // Bare: the address is physical; bit 63 set (negative) is above every device.
    if (va < 0) return ACCESS_FAULT;
    pa = va;
  } else {
    pa = walk(s, va, acc, priv);
    if (pa < 0) return pa;
    allowed = WALK_ALLOWED;
    span = WALK_SPAN;
  }
  if (pa + size > PA_LIMIT) return ACCESS_FAULT;
  const perm = acc === ACC_FETCH ? PMP_X : acc === ACC_LOAD ? PMP_R : PMP_W;
  if (!pmpCheck(s, pa, size, perm, priv)) return ACCESS_FAULT;

  const ram = s.ram;
  const pageOff = pa - (pa & 4095) - ram.base;
  // An HLVX read was allowed by X, which a load through the TLB must not inherit.
  if (virt !== 0 && s.h!.hlvx) return pa;
  if (pageOff >= 0 && pageOff < ram.size) {
    const pp = pmpPagePerms(s, pa - (pa & 4095), priv);
    if (pp >= 0) {
      allowed &= pp;
      const sum = acc === ACC_FETCH ? 0 : virt !== 0 ? vsSum(s) : s.mstatusSum;
      const set = s.tlb.sets[tlbSetIndex(priv, sum, virt)]!;
      if (acc === ACC_FETCH) {
        if ((allowed & PMP_X) !== 0) tlbFill(set.x, va, pageOff);
      } else {
        if ((allowed & PMP_R) !== 0) tlbFill(set.r, va, pageOff);
        if ((allowed & PMP_W) !== 0) tlbFill(set.w, va, pageOff);
      }
      if (span > 1) s.tlb.superpages = true;
    }
  }
  return pa;
}

/** Set by walk(): what the leaf allows (W only once D is set) and its size in pages. */
let WALK_ALLOWED = 0;
let WALK_SPAN = 1;

/**
 * A VS/VU access (priv H 8.5): the VS-stage walk of vsatp (Bare: the VA is the guest
 * physical address), each of its PTE reads and then the result translated by the
 * G-stage of hgatp. Sets WALK_ALLOWED/WALK_SPAN to what both stages allow; a span is
 * reported above one page when either stage used a superpage.
 */
function walkTwoStage(s: HartState, va: number, acc: number, priv: number): number {
  const hi = vsatpHi(s);
  let gpa: number;
  let allowed = PMP_R | PMP_W | PMP_X;
  let span = 1;
  if (hi >>> 28 === SATP_BARE) {
    // Bare VS-stage: the 64-bit VA is the GPA (as unsigned), which the G-stage bounds.
    gpa = va < 0 ? va + 2 ** 64 : va;
  } else {
    gpa = walk(s, va, acc, priv, vsatpLo(s), hi, 1);
    if (gpa < 0) return gpa;
    allowed = WALK_ALLOWED;
    span = WALK_SPAN;
  }
  const pa = gStage(s, gpa, acc, false);
  if (pa < 0) return pa;
  WALK_ALLOWED = allowed & G_ALLOWED;
  WALK_SPAN = Math.max(span, G_SPAN);
  return pa;
}

/** The page-table walk of priv 4.3.2 for Sv39/Sv48 (with `virt`, the VS-stage of vsatp,
 *  whose table addresses are guest-physical). Returns the address or a fault code. */
function walk(s: HartState, va: number, acc: number, priv: number, satpLo = s.satpLo, satpHi = s.satpHi, virt = 0): number {
  const levels = satpHi >>> 28 === SATP_SV48 ? 4 : 3;
  const half = 2 ** (11 + 9 * levels); // 2^(VA bits - 1)
  if (va < -half || va >= half) return PAGE_FAULT;
  // The VA's low (VA bits) as an unsigned number, whose digits in base 512 are the VPNs.
  const u = va < 0 ? va + 2 * half : va;
  // A monitor's shadow tables live outside guest RAM (Hart.setPageTableRam); VS-stage
  // tables are guest RAM, reached through the G-stage.
  const ram = virt === 0 && s.satpRam !== null ? s.satpRam : s.ram;
  let table = ((satpHi & 0xfff) * TWO32 + (satpLo >>> 0)) * 4096;
  // VS-stage: SUM from vsstatus; MXR from vsstatus or HS's mstatus (priv H 8.2.10).
  const sum = virt !== 0 ? vsSum(s) : s.mstatusSum;
  const mxr = virt !== 0 ? vsMxr(s) | hsMxr(s) : s.mstatusMxr;
  const hlvx = virt !== 0 && acc === ACC_LOAD && s.h!.hlvx;
  for (let level = levels - 1; level >= 0; level--) {
    const unit = 2 ** (12 + 9 * level);
    let pteAddr = table + (Math.floor(u / unit) % 512) * 8;
    if (virt !== 0) {
      // The PTE's address is guest-physical: its read goes through the G-stage (a
      // fault there is a guest-page fault of the original access type).
      pteAddr = gStage(s, pteAddr, acc, true);
      if (pteAddr < 0) return pteAddr;
    }
    if (!pmpCheck(s, pteAddr, 8, PMP_R, PRIV_S)) return ACCESS_FAULT;
    const off = pteAddr - ram.base;
    if (!(off >= 0 && off < ram.size)) return ACCESS_FAULT;
    const page = off >>> 12;
    if (ram.pageState[page] === 0 && !ram.miss(page, false)) return ACCESS_FAULT;
    const w = off >>> 2;
    let lo = ram.s32[w]!;
    const hi = ram.s32[w + 1]!;
    if ((lo & PTE_V) === 0 || (lo & (PTE_R | PTE_W)) === PTE_W || hi >>> 22 !== 0) return PAGE_FAULT;
    const ppn = (hi & 0x3fffff) * TWO22 + (lo >>> 10);
    if ((lo & (PTE_R | PTE_X)) === 0) {
      // A pointer to the next level.
      if (level === 0 || (lo & (PTE_D | PTE_A | PTE_U)) !== 0) return PAGE_FAULT;
      table = ppn * 4096;
      continue;
    }

    // A leaf. A superpage's PPN must be aligned to its size (4.3.2 step 6).
    const span = 2 ** (9 * level);
    if (ppn % span !== 0) return PAGE_FAULT;
    if ((lo & PTE_U) !== 0) {
      // S-mode may touch U pages only with SUM, and never execute them.
      if (priv === PRIV_S && (acc === ACC_FETCH || sum === 0)) return PAGE_FAULT;
    } else if (priv === PRIV_U) {
      return PAGE_FAULT;
    }
    // HLVX reads need execute permission instead of read (priv H 8.3.2).
    const canRead = hlvx ? (lo & PTE_X) !== 0 : (lo & PTE_R) !== 0 || (mxr !== 0 && (lo & PTE_X) !== 0);
    const canWrite = (lo & PTE_W) !== 0;
    const canExec = (lo & PTE_X) !== 0;
    if (acc === ACC_FETCH ? !canExec : acc === ACC_LOAD ? !canRead : !canWrite) return PAGE_FAULT;

    // A on every access, D on a store, written back before the access proceeds.
    const want = lo | PTE_A | (acc === ACC_STORE ? PTE_D : 0);
    if (want !== lo) {
      if (ram.pageState[page]! < 2 && !ram.miss(page, true)) return ACCESS_FAULT;
      ram.s32[w] = want;
      if (ram.code.mark[page] !== 0) ram.code.stored(off, 4);
      lo = want;
    }
    WALK_ALLOWED = (canRead ? PMP_R : 0) | (canWrite && (lo & PTE_D) !== 0 ? PMP_W : 0) | (canExec ? PMP_X : 0);
    WALK_SPAN = span;
    const base = ppn * 4096;
    if (base >= PA_LIMIT) return ACCESS_FAULT;
    return base + (u % (span * 4096));
  }
  return PAGE_FAULT;
}
