// Slow paths of memory access: everything the executor's inline fast path (aligned, in
// RAM, page state sufficient, and under translation a TLB hit) does not cover. Each
// returns false after raising the exception, with s.pc the faulting instruction on entry.
//
// Translation first (mmu/sv.ts: Sv39/Sv48 and PMP, MPRV applied), then the physical
// access. Misaligned accesses (unpriv 2.6 leaves them to the EEI): to RAM they are
// performed, byte by byte, without trapping, also across a page boundary (each page
// translated on its own; a fault on the second reports its first byte, as QEMU does):
// that is what QEMU's virt machine does (its RISC-V loads and stores carry no MO_ALIGN;
// only AMOs do), and software built for it may rely on it. To anything else they raise
// address-misaligned (cause 4/6): a device sees only naturally aligned accesses of one
// size, and splitting an access into several could repeat a register's side effect.
// ROM (addRom) reads like RAM and faults on stores.

import { PAGE_SIZE, gpa } from '@splitvisor/platform';
import { decodeCompressedInto } from './isa/c/decode.js';
import { decodeInto } from './decoder.js';
import { numHi, numLo, pairIsExact, pairToNumber } from './int64.js';
import { PMP_X, pmpPagePerms } from './mmu/pmp.js';
import { ACC_FETCH, ACC_LOAD, ACC_STORE, faultCause, pagingOn, translate } from './mmu/sv.js';
import { tlbLookup } from './mmu/tlb.js';
import { Cause, raiseException, raiseExceptionAt } from './trap.js';
import type { HartState, RomRegion } from './state.js';

/** Effective address rs1 + imm as an exact 64-bit pair, left in EA_LO/EA_HI. */
let EA_LO = 0;
let EA_HI = 0;
function effectiveAddress(s: HartState, rs1: number, imm: number): void {
  const a = s.xl[rs1]!;
  EA_LO = (a + imm) | 0;
  // The unsigned add of the low words carries into the high word; imm's sign fills it.
  const carry = (a >>> 0) + (imm >>> 0) > 0xffffffff ? 1 : 0;
  EA_HI = (s.xh[rs1]! + (imm >> 31) + carry) | 0;
}

// Where the bytes of the current data access live, from dataTarget(): the physical
// address of its first byte, and when it crosses a page under translation, the physical
// address of the part in the second page and how many bytes the first part has.
let PA1 = 0;
let PA2 = -1;
let FIRST = 0;

/** Page-fault cause per access kind, and access-fault cause. */
const PAGE_CAUSE = [Cause.FetchPageFault, Cause.LoadPageFault, Cause.StorePageFault];
const ACCESS_CAUSE = [Cause.FetchAccess, Cause.LoadAccess, Cause.StoreAccess];

/**
 * Translates the data access of `size` bytes at (lo, hi) into PA1 [, PA2 / FIRST].
 * Returns false after raising the fault (page or access fault of kind `acc`).
 */
function dataTarget(s: HartState, lo: number, hi: number, size: number, acc: number): boolean {
  PA2 = -1;
  FIRST = size;
  if (!s.dataVm) {
    // Physical. Negative as signed = above 2^63 unsigned; beyond 2^53 nothing is mapped.
    if (hi < 0 || !pairIsExact(lo, hi)) {
      raiseException(s, ACCESS_CAUSE[acc]!, lo, hi);
      return false;
    }
    PA1 = pairToNumber(lo, hi);
    return true;
  }
  const priv = s.dPriv;
  if (!pairIsExact(lo, hi)) {
    raiseException(s, pagingOn(s, priv, s.dVirt) ? PAGE_CAUSE[acc]! : ACCESS_CAUSE[acc]!, lo, hi);
    return false;
  }
  const va = pairToNumber(lo, hi);
  const inPage = PAGE_SIZE - (va & (PAGE_SIZE - 1));
  if (inPage < size) FIRST = inPage;
  const pa = translate(s, va, FIRST, acc, priv, s.dVirt);
  if (pa < 0) {
    raiseException(s, faultCause(pa, acc), lo, hi);
    return false;
  }
  PA1 = pa;
  if (FIRST < size) {
    const va2 = va + FIRST;
    const pa2 = translate(s, va2, size - FIRST, acc, priv, s.dVirt);
    if (pa2 < 0) {
      raiseException(s, faultCause(pa2, acc), numLo(va2), numHi(va2));
      return false;
    }
    if (pa2 === pa + FIRST)
      FIRST = size; // contiguous after all
    else PA2 = pa2;
  }
  return true;
}

/**
 * Physical address of a naturally aligned data access of `size` bytes at the 64-bit
 * address (lo, hi), translated for `acc` (ACC_LOAD, or ACC_STORE for SC and AMOs, whose
 * faults are store/AMO faults). Returns -1 after raising the fault. For the A extension.
 */
export function dataAddress(s: HartState, lo: number, hi: number, size: number, acc: number): number {
  return dataTarget(s, lo, hi, size, acc) ? PA1 : -1;
}

/** The ROM holding [pa, pa + size), if any. */
function romAt(s: HartState, pa: number, size: number): RomRegion | null {
  for (const r of s.roms) if (pa >= r.base && pa + size <= r.base + r.size) return r;
  return null;
}

/** Reads `n` bytes at byte offset `off` of `bytes` into LO/HI starting at byte `at`. */
let LO = 0;
let HI = 0;
function gather(bytes: Uint8Array, off: number, n: number, at: number): void {
  for (let i = 0; i < n; i++) {
    const k = at + i;
    if (k < 4) LO |= bytes[off + i]! << (8 * k);
    else HI |= bytes[off + i]! << (8 * (k - 4));
  }
}

/**
 * Load of `size` bytes at x[rs1] + imm into x[rd], sign- or zero-extended.
 * For RAM the page state is checked (and onMiss consulted) per page touched.
 */
export function loadSlow(s: HartState, rs1: number, imm: number, size: 1 | 2 | 4 | 8, unsigned: boolean, rd: number): boolean {
  effectiveAddress(s, rs1, imm);
  const tLo = EA_LO;
  const tHi = EA_HI;
  if (!dataTarget(s, tLo, tHi, size, ACC_LOAD)) return false;
  const ram = s.ram;
  LO = 0;
  HI = 0;
  const off1 = PA1 - ram.base;
  const n1 = FIRST;
  if (PA2 >= 0) {
    // Crosses into a page mapped elsewhere: both halves must be RAM.
    const off2 = PA2 - ram.base;
    const n2 = size - n1;
    if (!(inRam(s, off1, n1) && inRam(s, off2, n2))) {
      raiseException(s, inRam(s, off1, n1) || inRam(s, off2, n2) ? Cause.LoadAccess : Cause.MisalignedLoad, tLo, tHi);
      return false;
    }
    if (!ramReady(s, off1, n1, false) || !ramReady(s, off2, n2, false)) {
      raiseException(s, Cause.LoadAccess, tLo, tHi);
      return false;
    }
    gather(ram.bytes, off1, n1, 0);
    gather(ram.bytes, off2, n2, n1);
  } else if (off1 >= 0 && off1 + size <= ram.size) {
    if (!ramReady(s, off1, size, false)) {
      raiseException(s, Cause.LoadAccess, tLo, tHi);
      return false;
    }
    gather(ram.bytes, off1, size, 0);
  } else if (off1 < ram.size && off1 + size > 0) {
    // Straddles the edge of RAM: part of it is nothing.
    raiseException(s, Cause.LoadAccess, tLo, tHi);
    return false;
  } else {
    const rom = romAt(s, PA1, size);
    if (rom !== null) {
      gather(rom.bytes, PA1 - rom.base, size, 0);
    } else {
      if ((tLo & (size - 1)) !== 0) {
        raiseException(s, Cause.MisalignedLoad, tLo, tHi);
        return false;
      }
      const out = s.busOut;
      out[0] = 0;
      out[1] = 0;
      if (!s.bus.load(gpa(PA1), size, out)) {
        raiseException(s, Cause.LoadAccess, tLo, tHi);
        return false;
      }
      LO = out[0]!;
      HI = out[1]!;
    }
  }
  if (size === 8) {
    s.xl[rd] = LO;
    s.xh[rd] = HI;
  } else {
    const bits = 8 * size;
    const v = size === 4 ? LO | 0 : unsigned ? LO & ((1 << bits) - 1) : (LO << (32 - bits)) >> (32 - bits);
    s.xl[rd] = v;
    s.xh[rd] = unsigned ? 0 : v >> 31;
  }
  return true;
}

/** Store of the low `size` bytes of x[rs2] at x[rs1] + imm. */
export function storeSlow(s: HartState, rs1: number, imm: number, size: 1 | 2 | 4 | 8, rs2: number): boolean {
  effectiveAddress(s, rs1, imm);
  const tLo = EA_LO;
  const tHi = EA_HI;
  if (!dataTarget(s, tLo, tHi, size, ACC_STORE)) return false;
  const ram = s.ram;
  const lo = s.xl[rs2]!;
  const hi = size === 8 ? s.xh[rs2]! : 0;
  const off1 = PA1 - ram.base;
  const n1 = FIRST;
  if (PA2 >= 0) {
    const off2 = PA2 - ram.base;
    const n2 = size - n1;
    if (!(inRam(s, off1, n1) && inRam(s, off2, n2))) {
      raiseException(s, inRam(s, off1, n1) || inRam(s, off2, n2) ? Cause.StoreAccess : Cause.MisalignedStore, tLo, tHi);
      return false;
    }
    // Both pages must be writable before either is written: a store is all or nothing.
    if (!ramWritable(s, off1, n1) || !ramWritable(s, off2, n2)) {
      raiseException(s, Cause.StoreAccess, tLo, tHi);
      return false;
    }
    scatter(s, off1, n1, 0, lo, hi);
    scatter(s, off2, n2, n1, lo, hi);
    return true;
  }
  if (off1 >= 0 && off1 + size <= ram.size) {
    if (!ramWritable(s, off1, size)) {
      raiseException(s, Cause.StoreAccess, tLo, tHi);
      return false;
    }
    scatter(s, off1, size, 0, lo, hi);
    return true;
  }
  if ((off1 < ram.size && off1 + size > 0) || romAt(s, PA1, size) !== null) {
    raiseException(s, Cause.StoreAccess, tLo, tHi);
    return false;
  }
  if ((tLo & (size - 1)) !== 0) {
    raiseException(s, Cause.MisalignedStore, tLo, tHi);
    return false;
  }
  const v = size === 8 || size === 4 ? lo : lo & (size === 1 ? 0xff : 0xffff);
  if (!s.bus.store(gpa(PA1), size, v, hi)) {
    raiseException(s, Cause.StoreAccess, tLo, tHi);
    return false;
  }
  return true;
}

function inRam(s: HartState, off: number, n: number): boolean {
  return off >= 0 && off + n <= s.ram.size;
}

/** Writes bytes [at, at + n) of the value (lo, hi) at RAM offset `off`, drops code decoded
 *  from the pages touched, and reports a store to a watched page. */
export function scatter(s: HartState, off: number, n: number, at: number, lo: number, hi: number): void {
  const ram = s.ram;
  const b = ram.bytes;
  for (let i = 0; i < n; i++) {
    const k = at + i;
    b[off + i] = k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4));
  }
  const first = Math.floor(off / PAGE_SIZE);
  const last = Math.floor((off + n - 1) / PAGE_SIZE);
  for (let p = first; p <= last; p++) {
    if (ram.code.mark[p] !== 0) {
      const from = Math.max(off, p * PAGE_SIZE);
      ram.code.stored(from, Math.min(off + n, (p + 1) * PAGE_SIZE) - from);
    }
    if (s.watchPage !== null && s.watchPage[p] !== 0 && s.storeWatch !== null) {
      s.storeWatch(ram.base + off, n, lo, hi);
    }
  }
}

/** Makes every RAM page under [off, off + size) readable (or writable); false = fault. */
function ramReady(s: HartState, off: number, size: number, write: boolean): boolean {
  const ram = s.ram;
  const need = write ? 2 : 1;
  const first = Math.floor(off / PAGE_SIZE);
  const last = Math.floor((off + size - 1) / PAGE_SIZE);
  for (let p = first; p <= last; p++) {
    if (ram.pageState[p]! < need && !ram.miss(p, write)) return false;
  }
  return true;
}

/** ramReady for a store, except that a watched page is written while Shared (GuestRam
 *  keeps it below Modified so that every store to it comes here). */
export function ramWritable(s: HartState, off: number, size: number): boolean {
  const w = s.watchPage;
  if (w !== null) {
    const first = Math.floor(off / PAGE_SIZE);
    const last = Math.floor((off + size - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) {
      if (w[p] !== 0) {
        if (s.ram.pageState[p] === 0 && !s.ram.miss(p, false)) return false;
      } else if (s.ram.pageState[p]! < 2 && !s.ram.miss(p, true)) {
        return false;
      }
    }
    return true;
  }
  return ramReady(s, off, size, true);
}

/**
 * Finds the decoded block holding `pc` and leaves it in s.fBlk / s.fBase / s.fLen
 * (the executor runs from it while pc - fBase < fLen). Under translation the TLB (or a
 * walk) gives the physical page; code stays keyed by physical page, so only this lookup,
 * once per page crossing, pays for translation. A RAM or ROM page whose every byte PMP
 * lets this mode execute gets its cached block; anything else is fetched into a one-slot
 * block, every time (a device, a page only partly executable).
 * Returns false after raising the fetch exception.
 */
export function fetchLookup(s: HartState, pc: number): boolean {
  const lo = numLo(pc);
  if ((lo & 1) !== 0) {
    // Only reachable through setPc: jump targets are even (IALIGN = 16 with C).
    raiseException(s, Cause.MisalignedFetch, lo, numHi(pc));
    return false;
  }
  const ram = s.ram;
  let pa = pc;
  let whole = true;
  if (s.fetchVm) {
    const hit = tlbLookup(s.fSet.x, pc);
    if (hit >= 0) {
      pa = hit + ram.base;
    } else {
      pa = translate(s, pc, 2, ACC_FETCH, s.priv, s.virt);
      if (pa < 0) {
        raiseExceptionAt(s, faultCause(pa, ACC_FETCH), lo, numHi(pc), lo, numHi(pc));
        return false;
      }
      whole = (pmpPagePerms(s, pa - (pa & (PAGE_SIZE - 1)), s.priv) & PMP_X) !== 0;
    }
  }
  const off = pa - ram.base;
  const inPage = pa & (PAGE_SIZE - 1);
  // A block covers its page but the last parcel: a 32-bit instruction starting there
  // ends on the next page, so that parcel is always fetched below, both pages checked.
  if (whole && inPage !== PAGE_SIZE - 2) {
    if (off >= 0 && off < ram.size) {
      const page = Math.floor(off / PAGE_SIZE);
      if (ram.pageState[page] === 0 && !ram.miss(page, false)) {
        raiseExceptionAt(s, Cause.FetchAccess, lo, numHi(pc), lo, numHi(pc));
        return false;
      }
      s.fBlk = ram.code.block(page);
      s.fBase = pc - inPage;
      s.fLen = PAGE_SIZE - 2;
      s.fPhysOff = off - inPage;
      s.fRom = null;
      return true;
    }
    const rom = romAt(s, pa, 2);
    if (rom !== null) {
      const romOff = pa - rom.base;
      s.fBlk = rom.blocks[Math.floor(romOff / PAGE_SIZE)]!;
      s.fBase = pc - inPage;
      s.fLen = PAGE_SIZE - 2;
      s.fPhysOff = romOff - inPage;
      s.fRom = rom;
      return true;
    }
  }
  // One instruction decoded on its own, every time: the last parcel of a page, a page
  // PMP does not grant whole, or the bus (which offers no way to learn bytes changed).
  const p0 = fetchParcel(s, pc, pa);
  if (p0 < 0) return false;
  if ((p0 & 3) !== 3) {
    decodeCompressedInto(p0, s.busBlk, 0);
  } else {
    // The second parcel: on the next page when this is the last one, translated (and
    // PMP-checked) on its own; a fault there reports its address, epc the instruction's.
    const va2 = pc + 2;
    let pa2 = pa + 2;
    if (s.fetchVm) {
      pa2 = translate(s, va2, 2, ACC_FETCH, s.priv, s.virt);
      if (pa2 < 0) {
        raiseExceptionAt(s, faultCause(pa2, ACC_FETCH), lo, numHi(pc), numLo(va2), numHi(va2));
        return false;
      }
    }
    const p1 = NEXT_PARCEL >= 0 && pa2 === pa + 2 ? NEXT_PARCEL : fetchParcel(s, va2, pa2);
    if (p1 < 0) return false;
    decodeInto(p0 | (p1 << 16), s.busBlk, 0);
  }
  s.fBlk = s.busBlk;
  s.fBase = pc;
  s.fLen = 2;
  return true;
}

/** The parcel after the one fetchParcel returned, when a 4-byte bus read brought it. */
let NEXT_PARCEL = -1;

/** The 16-bit parcel at physical `pa` (virtual `va`, for the tval): RAM (page state
 *  checked), ROM or the bus. -1 after raising an instruction access fault. */
function fetchParcel(s: HartState, va: number, pa: number): number {
  NEXT_PARCEL = -1;
  const ram = s.ram;
  const off = pa - ram.base;
  if (off >= 0 && off < ram.size) {
    const page = Math.floor(off / PAGE_SIZE);
    if (ram.pageState[page] !== 0 || ram.miss(page, false)) return ram.u16[off >>> 1]!;
  } else {
    const rom = romAt(s, pa, 2);
    if (rom !== null) {
      const b = rom.bytes;
      const i = pa - rom.base;
      return b[i]! | (b[i + 1]! << 8);
    }
    const out = s.busOut;
    out[0] = 0;
    out[1] = 0;
    // An aligned word in one read (devices see aligned accesses of one size).
    const size = (pa & 3) === 0 ? 4 : 2;
    if (pa >= 0 && s.bus.load(gpa(pa), size, out)) {
      if (size === 4) NEXT_PARCEL = out[0]! >>> 16;
      return out[0]! & 0xffff;
    }
  }
  raiseExceptionAt(s, Cause.FetchAccess, numLo(s.pc), numHi(s.pc), numLo(va), numHi(va));
  return -1;
}

/** Decodes the slot for `pc` of the current block (RAM or ROM, see fetchLookup) into
 *  blk[k] and returns its first word. */
export function decodeRamSlot(s: HartState, blk: Int32Array, k: number, pc: number): number {
  const off = s.fPhysOff + (pc - s.fBase);
  const rom = s.fRom;
  let p0: number;
  let p1 = 0;
  // The block never reaches a page's last parcel, so both parcels are on this page.
  if (rom !== null) {
    const b = rom.bytes;
    p0 = b[off]! | (b[off + 1]! << 8);
    if ((p0 & 3) === 3) p1 = b[off + 2]! | (b[off + 3]! << 8);
  } else {
    const u16 = s.ram.u16;
    p0 = u16[off >>> 1]!;
    if ((p0 & 3) === 3) p1 = u16[(off >>> 1) + 1]!;
  }
  if ((p0 & 3) !== 3) decodeCompressedInto(p0, blk, k);
  else decodeInto(p0 | (p1 << 16), blk, k);
  if (rom === null) s.ram.code.decoded(off, (p0 & 3) === 3 ? 4 : 2);
  return blk[k]!;
}
