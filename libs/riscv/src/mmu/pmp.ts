// Physical memory protection (priv 1.12, 3.7), with the 16 entries and the 4-byte
// granularity (G = 0) of QEMU's virt machine. Entries are kept as precomputed byte ranges
// [pmpLo, pmpHi) so a check is a short loop over numbers. pmpaddr holds 54 bits (a byte
// address below 2^56), so the bounds are computed exactly (with BigInt: only on a CSR
// write, never on an access) and clamped to 2^53, the limit of physical addresses here.
//
// Rules (3.7.1): the lowest-numbered entry that matches any byte of an access decides;
// it must match all of them or the access fails. A matching entry's R/W/X apply to S and
// U always and to M only when it is locked (L). No match: M succeeds, S and U fail
// (some entry is implemented). Page-table reads are checked as S-mode loads.

import { PRIV_M, type HartState } from '../state.js';

export const PMP_R = 1;
export const PMP_W = 2;
export const PMP_X = 4;
export const PMP_L = 0x80;
export const PMP_ENTRIES = 16;

const A_OFF = 0;
const A_TOR = 1;
const A_NA4 = 2;

/** Writes pmpcfg byte `i` (WARL: locked entries ignore writes; R=0 W=1 is reserved and,
 *  as in QEMU, such a write is ignored; bits 6:5 read as zero). No recompute. */
export function pmpWriteCfg(s: HartState, i: number, v: number): void {
  if ((s.pmpCfg[i]! & PMP_L) !== 0) return;
  if ((v & (PMP_R | PMP_W)) === PMP_W) return;
  s.pmpCfg[i] = v & 0x9f;
}

/** Writes pmpaddr `i` from a (lo, hi) pair, keeping its 54 bits (address bits 55:2,
 *  priv 3.7.1); ignored when entry i is locked, or when entry
 *  i + 1 is a locked TOR entry (its base is this address). No recompute. */
export function pmpWriteAddr(s: HartState, i: number, lo: number, hi: number): void {
  if ((s.pmpCfg[i]! & PMP_L) !== 0) return;
  if (i + 1 < PMP_ENTRIES) {
    const next = s.pmpCfg[i + 1]!;
    if ((next & PMP_L) !== 0 && ((next >>> 3) & 3) === A_TOR) return;
  }
  s.pmpAddrLo[i] = lo;
  s.pmpAddrHi[i] = hi & 0x3fffff;
}

/** pmpaddr `i` as an exact unsigned bigint. */
function addrOf(s: HartState, i: number): bigint {
  return (BigInt(s.pmpAddrHi[i]!) << 32n) | BigInt(s.pmpAddrLo[i]! >>> 0);
}

const LIMIT = 2n ** 53n;
function clamp(v: bigint): number {
  return Number(v < LIMIT ? v : LIMIT);
}

/** Recomputes the ranges and summary flags after any PMP CSR write. The caller flushes
 *  the TLB (every cached page was checked against the old entries). */
export function pmpUpdate(s: HartState): void {
  let active = false;
  let locked = false;
  for (let i = 0; i < PMP_ENTRIES; i++) {
    const cfg = s.pmpCfg[i]!;
    const a = (cfg >>> 3) & 3;
    const addr = addrOf(s, i);
    let lo = 0n;
    let hi = 0n;
    if (a === A_TOR) {
      lo = i === 0 ? 0n : addrOf(s, i - 1) * 4n;
      hi = addr * 4n;
    } else if (a === A_NA4) {
      lo = addr * 4n;
      hi = lo + 4n;
    } else if (a !== A_OFF) {
      // NAPOT: the trailing ones of pmpaddr give the size, 2^(ones + 3) bytes.
      let ones = 0n;
      while (((addr >> ones) & 1n) === 1n) ones++;
      lo = ((addr >> ones) << ones) * 4n;
      hi = lo + (1n << (ones + 3n));
    }
    s.pmpLo[i] = clamp(lo);
    s.pmpHi[i] = clamp(hi);
    if (a !== A_OFF) active = true;
    if ((cfg & PMP_L) !== 0) locked = true;
  }
  s.pmpActive = active;
  s.pmpLocked = locked;
}

/** May an access of `size` bytes at physical `pa` with permission `perm` (PMP_R, PMP_W or
 *  PMP_X) proceed at privilege `priv`? */
export function pmpCheck(s: HartState, pa: number, size: number, perm: number, priv: number): boolean {
  const end = pa + size;
  for (let i = 0; i < PMP_ENTRIES; i++) {
    const lo = s.pmpLo[i]!;
    const hi = s.pmpHi[i]!;
    if (hi <= lo || end <= lo || pa >= hi) continue;
    if (pa < lo || end > hi) return false; // matches some bytes only
    const cfg = s.pmpCfg[i]!;
    if (priv === PRIV_M && (cfg & PMP_L) === 0) return true;
    return (cfg & perm) !== 0;
  }
  return priv === PRIV_M;
}

/** The permissions (PMP_R | PMP_W | PMP_X) that hold for every byte of the 4 KiB page at
 *  `page` at privilege `priv`, or -1 when they differ inside the page (then nothing of it
 *  may be cached and each access is checked on its own). */
export function pmpPagePerms(s: HartState, page: number, priv: number): number {
  const end = page + 4096;
  for (let i = 0; i < PMP_ENTRIES; i++) {
    const lo = s.pmpLo[i]!;
    const hi = s.pmpHi[i]!;
    if (hi <= lo || end <= lo || page >= hi) continue;
    if (page < lo || end > hi) return -1;
    const cfg = s.pmpCfg[i]!;
    if (priv === PRIV_M && (cfg & PMP_L) === 0) return PMP_R | PMP_W | PMP_X;
    return cfg & (PMP_R | PMP_W | PMP_X);
  }
  return priv === PRIV_M ? PMP_R | PMP_W | PMP_X : 0;
}
