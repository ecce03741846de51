// Slow paths of memory access: everything the executor's inline fast path (aligned, in
// RAM, page state sufficient) does not cover. Each returns false after raising the
// exception, with s.pc the faulting instruction on entry.
//
// Misaligned accesses (unpriv 2.6 leaves them to the EEI). To RAM they are performed,
// byte by byte, without trapping: that is what QEMU's virt machine does (its RISC-V
// loads and stores carry no MO_ALIGN; only AMOs do), and software built for it may rely on
// it. To anything else on the bus they raise address-misaligned (cause 4/6): a device
// sees only naturally aligned accesses of one size, and splitting an access into
// several could repeat a register's side effect.
//
// Addresses are physical (bare M-mode); issue 3 puts Sv39/48 translation in front.

import { PAGE_SIZE } from '@splitvisor/platform';
import { decodeInto } from './decoder.js';
import { numHi, numLo, pairIsExact, pairToNumber } from './int64.js';
import { Cause, raiseException, raiseExceptionAt } from './trap.js';
import type { HartState } from './state.js';

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

/** Physical address of EA as a number, or -1 when no memory can be there. */
function physical(): number {
  // Negative as signed = above 2^63 unsigned; beyond 2^53 nothing is mapped.
  if (EA_HI < 0 || !pairIsExact(EA_LO, EA_HI)) return -1;
  return pairToNumber(EA_LO, EA_HI);
}

/**
 * Load of `size` bytes at x[rs1] + imm into x[rd], sign- or zero-extended.
 * For RAM the page state is checked (and onMiss consulted) per page touched.
 */
export function loadSlow(s: HartState, rs1: number, imm: number, size: 1 | 2 | 4 | 8, unsigned: boolean, rd: number): boolean {
  effectiveAddress(s, rs1, imm);
  const tLo = EA_LO;
  const tHi = EA_HI;
  const pa = physical();
  const ram = s.ram;
  const off = pa - ram.base;
  let lo = 0;
  let hi = 0;
  if (pa >= 0 && off >= 0 && off + size <= ram.size) {
    if (!ramReady(s, off, size, false)) {
      raiseException(s, Cause.LoadAccess, tLo, tHi);
      return false;
    }
    const b = ram.bytes;
    for (let i = 0; i < size && i < 4; i++) lo |= b[off + i]! << (8 * i);
    for (let i = 4; i < size; i++) hi |= b[off + i]! << (8 * (i - 4));
  } else if (pa >= 0 && off < ram.size && off + size > 0) {
    // Straddles the edge of RAM: part of it is nothing.
    raiseException(s, Cause.LoadAccess, tLo, tHi);
    return false;
  } else {
    if (pa >= 0 && (tLo & (size - 1)) !== 0) {
      raiseException(s, Cause.MisalignedLoad, tLo, tHi);
      return false;
    }
    const out = s.busOut;
    out[0] = 0;
    out[1] = 0;
    if (pa < 0 || !s.bus.load(pa, size, out)) {
      raiseException(s, Cause.LoadAccess, tLo, tHi);
      return false;
    }
    lo = out[0]!;
    hi = out[1]!;
  }
  if (size === 8) {
    s.xl[rd] = lo;
    s.xh[rd] = hi;
  } else {
    const bits = 8 * size;
    const v = size === 4 ? lo | 0 : unsigned ? lo & ((1 << bits) - 1) : (lo << (32 - bits)) >> (32 - bits);
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
  const pa = physical();
  const ram = s.ram;
  const off = pa - ram.base;
  const lo = s.xl[rs2]!;
  const hi = size === 8 ? s.xh[rs2]! : 0;
  if (pa >= 0 && off >= 0 && off + size <= ram.size) {
    if (!ramReady(s, off, size, true)) {
      raiseException(s, Cause.StoreAccess, tLo, tHi);
      return false;
    }
    const b = ram.bytes;
    for (let i = 0; i < size && i < 4; i++) b[off + i] = lo >>> (8 * i);
    for (let i = 4; i < size; i++) b[off + i] = hi >>> (8 * (i - 4));
    const first = Math.floor(off / PAGE_SIZE);
    const last = Math.floor((off + size - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) if (ram.code.mark[p] !== 0) ram.code.invalidate(p);
    return true;
  }
  if (pa >= 0 && off < ram.size && off + size > 0) {
    raiseException(s, Cause.StoreAccess, tLo, tHi);
    return false;
  }
  if (pa >= 0 && (tLo & (size - 1)) !== 0) {
    raiseException(s, Cause.MisalignedStore, tLo, tHi);
    return false;
  }
  const v = size === 8 || size === 4 ? lo : lo & (size === 1 ? 0xff : 0xffff);
  if (pa < 0 || !s.bus.store(pa, size, v, hi)) {
    raiseException(s, Cause.StoreAccess, tLo, tHi);
    return false;
  }
  return true;
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

/**
 * Finds the decoded block holding `pc` and leaves it in s.fBlk / s.fBase / s.fLen
 * (the executor runs from it while pc - fBase < fLen). RAM pages get their cached block;
 * anything else is fetched over the bus into a one-slot block, every time (boot ROM:
 * a handful of instructions, and the bus offers no way to learn the bytes changed).
 * Returns false after raising the fetch exception.
 */
export function fetchLookup(s: HartState, pc: number): boolean {
  const lo = numLo(pc);
  if ((lo & 3) !== 0) {
    // Only reachable through setPc: every jump checks its own target.
    raiseException(s, Cause.MisalignedFetch, lo, numHi(pc));
    return false;
  }
  const ram = s.ram;
  const off = pc - ram.base;
  if (off >= 0 && off < ram.size) {
    const page = Math.floor(off / PAGE_SIZE);
    if (ram.pageState[page] === 0 && !ram.miss(page, false)) {
      raiseException(s, Cause.FetchAccess, lo, numHi(pc));
      return false;
    }
    s.fBlk = ram.code.block(page);
    s.fBase = pc - (off % PAGE_SIZE);
    s.fLen = PAGE_SIZE;
    return true;
  }
  const out = s.busOut;
  out[0] = 0;
  out[1] = 0;
  if (pc < 0 || !s.bus.load(pc, 4, out)) {
    raiseExceptionAt(s, Cause.FetchAccess, lo, numHi(pc), lo, numHi(pc));
    return false;
  }
  decodeInto(out[0]!, s.busBlk, 0);
  s.fBlk = s.busBlk;
  s.fBase = pc;
  s.fLen = 4;
  return true;
}

/** Decodes the RAM slot for `pc` into blk[k] and returns its first word. */
export function decodeRamSlot(s: HartState, blk: Int32Array, k: number, pc: number): number {
  const ram = s.ram;
  const off = pc - ram.base;
  decodeInto(ram.s32[off / 4]!, blk, k);
  ram.code.mark[Math.floor(off / PAGE_SIZE)] = 1;
  ram.code.decodes++;
  return blk[k]!;
}
