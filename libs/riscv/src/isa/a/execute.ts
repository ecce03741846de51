// The A extension (unpriv spec 20191213 ch. 8), execution: LR/SC with a reservation,
// and the AMOs (decoding and clearReservation: decode.ts, which trap.ts can import
// without pulling in the memory paths).
// One hart executes one instruction at a time, so every AMO is atomic by construction;
// aq/rl need no work. What needs care is the access itself:
//
// - Naturally aligned or a trap, as QEMU (its AMOs carry MO_ALIGN): LR raises load
//   address misaligned (4), SC and AMOs store/AMO address misaligned (6), tval = address.
// - Translated (mem-access.ts dataAddress) with store permission for SC and AMOs, so
//   their faults are store/AMO faults (7, 15) even though an AMO also reads.
// - RAM pages must be writable (Modified) for an AMO: the read and the write are one
//   access, so the miss asks for write ownership first (DESIGN.md "mmu").
//
// Reservation (8.2): LR records the physical address, size and the value it read. SC
// succeeds only with an LR of the same address and size since the last SC, and only if
// memory still holds that value (as QEMU's cmpxchg-based SC: a store by another hart
// to the reserved bytes is seen that way). Every SC clears it; so do trap entry and xRET
// through clearReservation in decode.ts (priv 3.3.2 allows it, and it keeps a reservation from one
// context from satisfying another's SC).

import { gpa } from '@splitvisor/platform';
import { dataAddress, loadSlow, ramWritable, scatter, storeSlow } from '../../mem-access.js';
import { ACC_LOAD, ACC_STORE } from '../../mmu/sv.js';
import { Cause, raiseException } from '../../trap.js';
import type { HartState } from '../../state.js';

/** funct5 of the AMOs this hart implements (8.4). */
const AMO_ADD = 0x00;
const AMO_XOR = 0x04;
const AMO_OR = 0x08;
const AMO_AND = 0x0c;
const AMO_MIN = 0x10;
const AMO_MAX = 0x14;
const AMO_MINU = 0x18;
const AMO_MAXU = 0x1c;

/** Translates x[rs1] for an atomic access after the alignment check; -1 after a trap. */
function atomicAddress(s: HartState, rs1: number, size: number, load: boolean): number {
  const lo = s.xl[rs1]!;
  const hi = s.xh[rs1]!;
  if ((lo & (size - 1)) !== 0) {
    raiseException(s, load ? Cause.MisalignedLoad : Cause.MisalignedStore, lo, hi);
    return -1;
  }
  return dataAddress(s, lo, hi, size, load ? ACC_LOAD : ACC_STORE);
}

/** LR.W / LR.D into x[rd]; false after a trap. */
export function loadReserved(s: HartState, rd: number, rs1: number, size: 4 | 8): boolean {
  const pa = atomicAddress(s, rs1, size, true);
  if (pa < 0) return false;
  if (!loadSlow(s, rs1, 0, size, false, rd)) return false;
  s.resAddr = pa;
  s.resSize = size;
  s.resLo = s.xl[rd]!;
  s.resHi = size === 8 ? s.xh[rd]! : 0;
  return true;
}

/** SC.W / SC.D: x[rd] = 0 on success, 1 on failure; false after a trap. */
export function storeConditional(s: HartState, rd: number, rs1: number, rs2: number, size: 4 | 8): boolean {
  const pa = atomicAddress(s, rs1, size, false);
  if (pa < 0) return false;
  const ok = s.resAddr === pa && s.resSize === size && stillHolds(s, pa, size);
  s.resAddr = -1;
  if (ok && !storeSlow(s, rs1, 0, size, rs2)) return false;
  s.xl[rd] = ok ? 0 : 1;
  s.xh[rd] = 0;
  return true;
}

/** Memory at pa still holds the value LR read (RAM only; a page since recalled or a
 *  device reads as changed). */
function stillHolds(s: HartState, pa: number, size: number): boolean {
  const ram = s.ram;
  const off = pa - ram.base;
  if (off < 0 || off + size > ram.size || ram.pageState[off >>> 12] === 0) return false;
  const i = off >>> 2;
  return ram.s32[i] === s.resLo && (size === 4 || ram.s32[i + 1] === s.resHi);
}

// Operands of the current AMO: old value and the register value, as pairs.
let NEW_LO = 0;
let NEW_HI = 0;

/** new = op(old, v) for the AMO kind, on 32-bit (W) or 64-bit pairs, into NEW_LO/HI. */
function combine(f5: number, oLo: number, oHi: number, vLo: number, vHi: number, wide: boolean): void {
  let lo = vLo;
  let hi = vHi;
  switch (f5) {
    case AMO_ADD:
      lo = (oLo + vLo) | 0;
      hi = (oHi + vHi + ((oLo >>> 0) + (vLo >>> 0) > 0xffffffff ? 1 : 0)) | 0;
      break;
    case AMO_XOR:
      lo = oLo ^ vLo;
      hi = oHi ^ vHi;
      break;
    case AMO_OR:
      lo = oLo | vLo;
      hi = oHi | vHi;
      break;
    case AMO_AND:
      lo = oLo & vLo;
      hi = oHi & vHi;
      break;
    case AMO_MIN:
    case AMO_MAX:
    case AMO_MINU:
    case AMO_MAXU: {
      const unsigned = f5 === AMO_MINU || f5 === AMO_MAXU;
      let less: boolean; // old < v
      if (!wide) less = unsigned ? oLo >>> 0 < vLo >>> 0 : oLo < vLo;
      else if (oHi !== vHi) less = unsigned ? oHi >>> 0 < vHi >>> 0 : oHi < vHi;
      else less = oLo >>> 0 < vLo >>> 0;
      const takeOld = f5 === AMO_MIN || f5 === AMO_MINU ? less : !less;
      if (takeOld) {
        lo = oLo;
        hi = oHi;
      }
      break;
    }
    default: // AMOSWAP (0x01)
      break;
  }
  NEW_LO = lo;
  NEW_HI = hi;
}

/** AMO*.W / AMO*.D (funct5 = kind): x[rd] = old memory value (W: sign-extended), memory =
 *  op(old, x[rs2]). False after a trap. */
export function amo(s: HartState, kind: number, rd: number, rs1: number, rs2: number, size: 4 | 8): boolean {
  const pa = atomicAddress(s, rs1, size, false);
  if (pa < 0) return false;
  const lo = s.xl[rs1]!;
  const hi = s.xh[rs1]!;
  const vLo = s.xl[rs2]!;
  const vHi = size === 8 ? s.xh[rs2]! : 0;
  const ram = s.ram;
  const off = pa - ram.base;
  let oLo: number;
  let oHi = 0;
  if (off >= 0 && off + size <= ram.size) {
    if (!ramWritable(s, off, size)) {
      raiseException(s, Cause.StoreAccess, lo, hi);
      return false;
    }
    const i = off >>> 2;
    oLo = ram.s32[i]!;
    if (size === 8) oHi = ram.s32[i + 1]!;
    combine(kind, oLo, oHi, vLo, vHi, size === 8);
    scatter(s, off, size, 0, NEW_LO, NEW_HI);
  } else {
    // A device: read, then write, each a plain access of the whole width.
    const out = s.busOut;
    out[0] = 0;
    out[1] = 0;
    if (off >= 0 && off < ram.size) {
      raiseException(s, Cause.StoreAccess, lo, hi);
      return false;
    }
    if (!s.bus.load(gpa(pa), size, out)) {
      raiseException(s, Cause.StoreAccess, lo, hi);
      return false;
    }
    oLo = out[0]!;
    if (size === 8) oHi = out[1]!;
    combine(kind, oLo, oHi, vLo, vHi, size === 8);
    if (!s.bus.store(gpa(pa), size, NEW_LO, size === 8 ? NEW_HI : 0)) {
      raiseException(s, Cause.StoreAccess, lo, hi);
      return false;
    }
  }
  // Sign-extension of the W result (old value) happens here, after rs2 was read: rd may
  // be rs2 or rs1.
  s.xl[rd] = oLo;
  s.xh[rd] = size === 8 ? oHi : oLo >> 31;
  return true;
}
