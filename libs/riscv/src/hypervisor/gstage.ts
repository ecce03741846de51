// The G-stage of two-stage translation (priv H 8.5.1): hgatp's Sv39x4 / Sv48x4 tables
// turn a guest-physical address into a host-physical one. The root table is four times
// larger than the VS-stage's (16 KiB, 2048 entries), so a guest-physical address has two
// more bits (41 for Sv39x4, 50 for Sv48x4); anything wider is a guest-page fault. Every
// G-stage access counts as a user-level access: a leaf needs U = 1. A and D are set by
// the walk, as the VS-stage and QEMU do. MXR here is HS-mode's mstatus.MXR.

import { ACC_FETCH, ACC_LOAD, ACC_STORE, ACCESS_FAULT, GUEST_PAGE_FAULT } from '../mmu/sv.js';
import { pmpCheck, PMP_R, PMP_W, PMP_X } from '../mmu/pmp.js';
import { PRIV_S, type HartState } from '../state.js';
import { HGATP_BARE, HGATP_SV48X4 } from './state.js';
import { hsMxr } from './virt.js';

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_A = 64;
const PTE_D = 128;
const TWO32 = 4294967296;
const TWO22 = 4194304;
const PA_LIMIT = 2 ** 53;

/** Set by gStage(): what the leaf allows (PMP_* bits, W only once D is set) and its size
 *  in 4 KiB pages. */
export let G_ALLOWED = 0;
export let G_SPAN = 1;

/**
 * Translates guest-physical `gpa` for an access of kind `acc` (for a VS-stage PTE read,
 * `implicit`: it is a read whatever `acc` is, but a fault has `acc`'s cause). Returns the
 * host-physical address, ACCESS_FAULT (a G-stage PTE outside RAM or refused by PMP), or
 * GUEST_PAGE_FAULT with s.h.trapGpa = gpa (and s.h.trapImplicit = implicit).
 */
export function gStage(s: HartState, gpa: number, acc: number, implicit: boolean): number {
  const h = s.h!;
  const mode = h.hgatpHi >>> 28;
  G_ALLOWED = PMP_R | PMP_W | PMP_X;
  G_SPAN = 1;
  if (mode === HGATP_BARE) {
    if (gpa >= PA_LIMIT) return ACCESS_FAULT;
    return gpa;
  }
  const levels = mode === HGATP_SV48X4 ? 4 : 3;
  if (gpa >= 2 ** (14 + 9 * levels)) return guestFault(s, gpa, implicit);
  const ram = h.tableRam ?? s.ram;
  let table = ((h.hgatpHi & 0xfff) * TWO32 + (h.hgatpLo >>> 0)) * 4096;
  const need = implicit ? ACC_LOAD : acc;
  for (let level = levels - 1; level >= 0; level--) {
    const unit = 2 ** (12 + 9 * level);
    // The root level indexes 11 bits (2048 entries); the others 9.
    const index = level === levels - 1 ? Math.floor(gpa / unit) : Math.floor(gpa / unit) % 512;
    const pteAddr = table + index * 8;
    if (!pmpCheck(s, pteAddr, 8, PMP_R, PRIV_S)) return ACCESS_FAULT;
    const off = pteAddr - ram.base;
    if (!(off >= 0 && off < ram.size)) return ACCESS_FAULT;
    const page = off >>> 12;
    if (ram.pageState[page] === 0 && !ram.miss(page, false)) return ACCESS_FAULT;
    const w = off >>> 2;
    let lo = ram.s32[w]!;
    const hi = ram.s32[w + 1]!;
    if ((lo & PTE_V) === 0 || (lo & (PTE_R | PTE_W)) === PTE_W || hi >>> 22 !== 0) return guestFault(s, gpa, implicit);
    const ppn = (hi & 0x3fffff) * TWO22 + (lo >>> 10);
    if ((lo & (PTE_R | PTE_X)) === 0) {
      if (level === 0 || (lo & (PTE_D | PTE_A | PTE_U)) !== 0) return guestFault(s, gpa, implicit);
      table = ppn * 4096;
      continue;
    }
    const span = 2 ** (9 * level);
    if (ppn % span !== 0 || (lo & PTE_U) === 0) return guestFault(s, gpa, implicit);
    // HLVX (an explicit load, not a PTE read) needs X instead of R.
    const hlvx = !implicit && acc === ACC_LOAD && h.hlvx;
    const canRead = hlvx ? (lo & PTE_X) !== 0 : (lo & PTE_R) !== 0 || (hsMxr(s) !== 0 && (lo & PTE_X) !== 0);
    const canWrite = (lo & PTE_W) !== 0;
    const canExec = (lo & PTE_X) !== 0;
    if (need === ACC_FETCH ? !canExec : need === ACC_LOAD ? !canRead : !canWrite) return guestFault(s, gpa, implicit);
    const want = lo | PTE_A | (need === ACC_STORE ? PTE_D : 0);
    if (want !== lo) {
      if (ram.pageState[page]! < 2 && !ram.miss(page, true)) return ACCESS_FAULT;
      ram.s32[w] = want;
      if (ram.code.mark[page] !== 0) ram.code.stored(off, 4);
      lo = want;
    }
    G_ALLOWED = (canRead ? PMP_R : 0) | (canWrite && (lo & PTE_D) !== 0 ? PMP_W : 0) | (canExec ? PMP_X : 0);
    G_SPAN = span;
    const base = ppn * 4096;
    if (base >= PA_LIMIT) return ACCESS_FAULT;
    return base + (gpa % (span * 4096));
  }
  return guestFault(s, gpa, implicit);
}

function guestFault(s: HartState, gpa: number, implicit: boolean): number {
  s.h!.trapGpa = gpa;
  s.h!.trapImplicit = implicit;
  return GUEST_PAGE_FAULT;
}
