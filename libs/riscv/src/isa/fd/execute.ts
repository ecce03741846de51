// Execution of F and D instructions (unpriv ch. 11, 12, spec 20191213: F 2.2, D 2.2).
// The executor hands over the raw instruction (Op.FP) or the fields of a load/store;
// this file reads the f registers (NaN-boxing singles), resolves the rounding mode,
// calls arith.ts / convert.ts, writes the result and accrues fflags.
//
// f registers live in s.fw (Int32Array: low word at 2i, high word at 2i + 1) with s.fd
// (Float64Array) over the same bytes. Values go through s.fd only when they are not NaN:
// a NaN's payload is not safe in a JS number, so NaNs are recognised, built and moved as
// bits. Every NaN an operation produces is the canonical one (11.3).
//
// mstatus.FS (priv 3.1.6.6): every F/D instruction and FP CSR access is illegal while FS
// is Off; anything that changes FP state (an f register, fflags, frm) sets it to Dirty.

import { SINK } from '../../decoder.js';
import { loadSlow, storeSlow } from '../../mem-access.js';
import { Cause, raiseException } from '../../trap.js';
import type { HartState } from '../../state.js';
import { fadd, fdiv, ffma, fmul, fsqrt } from './arith.js';
import { fromInt, INT_HI, INT_LO, toInt } from './convert.js';
import './csr.js'; // fflags, frm, fcsr join the CSR file with the engine that uses them
import { clearFlags, DOUBLE, f32Bits, f32FromBits, FLAGS, NV, raiseFlags, roundPair, SINGLE } from './round.js';

const CANON_S = 0x7fc00000;
const CANON_D_HI = 0x7ff80000;

// ---- Register access ----

/** Bits of single rs, unboxed: an improperly NaN-boxed value reads as the canonical NaN. */
function sBits(fw: Int32Array, r: number): number {
  return fw[2 * r + 1] === -1 ? fw[2 * r]! : CANON_S;
}
function sIsNaN(b: number): boolean {
  return (b & 0x7fffffff) > 0x7f800000;
}
function sIsSNaN(b: number): boolean {
  return (b & 0x7fffffff) > 0x7f800000 && (b & 0x00400000) === 0;
}
function dIsNaN(fw: Int32Array, r: number): boolean {
  const h = fw[2 * r + 1]! & 0x7fffffff;
  return h > 0x7ff00000 || (h === 0x7ff00000 && fw[2 * r] !== 0);
}
function dIsSNaN(fw: Int32Array, r: number): boolean {
  return dIsNaN(fw, r) && (fw[2 * r + 1]! & 0x00080000) === 0;
}
function writeS(fw: Int32Array, r: number, v: number): void {
  fw[2 * r] = f32Bits(v);
  fw[2 * r + 1] = -1;
}
function writeD(fw: Int32Array, fd: Float64Array, r: number, v: number): void {
  if (v !== v) {
    fw[2 * r] = 0;
    fw[2 * r + 1] = CANON_D_HI;
  } else {
    fd[r] = v;
  }
}
function writeX(s: HartState, rd: number, lo: number, hi: number): void {
  if (rd === 0) return;
  s.xl[rd] = lo;
  s.xh[rd] = hi;
}

/** fclass bits (11.9) from sign, "is NaN/inf/zero/subnormal" and quiet bit. */
function fclassBits(neg: boolean, expAllOnes: boolean, expZero: boolean, fracZero: boolean, quiet: boolean): number {
  if (expAllOnes) {
    if (fracZero) return neg ? 1 << 0 : 1 << 7;
    return quiet ? 1 << 9 : 1 << 8;
  }
  if (expZero) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

/** Accrues this operation's flags; FS becomes Dirty when fflags changes. */
function accrue(s: HartState): void {
  if ((FLAGS & ~s.fflags) !== 0) {
    s.fflags |= FLAGS;
    s.mstatusFs = 3;
  }
}

/**
 * Executes one OP-FP / FMADD-family instruction (`inst` raw). Returns false after raising
 * illegal-instruction (FS Off, or a dynamic rounding mode while frm holds a reserved one).
 */
export function fpExecute(s: HartState, inst: number): boolean {
  if (fpOff(s)) {
    raiseException(s, Cause.IllegalInstruction, inst | 0, 0);
    return false;
  }
  const fw = s.fw;
  const fd = s.fd;
  const rd = (inst >>> 7) & 31;
  const rs1 = (inst >>> 15) & 31;
  const rs2 = (inst >>> 20) & 31;
  const f3 = (inst >>> 12) & 7;
  const dbl = ((inst >>> 25) & 3) === 1;
  const opcode = inst & 0x7f;
  let rm = f3;
  if (rm === 7) rm = s.frm;
  clearFlags();

  if (opcode !== 0x53) {
    // FMADD 0x43, FMSUB 0x47, FNMSUB 0x4b, FNMADD 0x4f: -(a*b) is (-a)*b, and the
    // addend's sign flips for the "sub" forms of each.
    if (rm > 4) return illegalRm(s, inst);
    const rs3 = inst >>> 27;
    const negProd = opcode === 0x4b || opcode === 0x4f;
    const negAdd = opcode === 0x47 || opcode === 0x4f;
    let r: number;
    if (dbl) {
      r = fma3(
        dIsNaN(fw, rs1),
        dIsNaN(fw, rs2),
        dIsNaN(fw, rs3),
        dIsSNaN(fw, rs1) || dIsSNaN(fw, rs2) || dIsSNaN(fw, rs3),
        fd[rs1]!,
        fd[rs2]!,
        fd[rs3]!,
        negProd,
        negAdd,
        true,
        rm,
      );
      writeD(fw, fd, rd, r);
    } else {
      const a = sBits(fw, rs1);
      const b = sBits(fw, rs2);
      const c = sBits(fw, rs3);
      r = fma3(
        sIsNaN(a),
        sIsNaN(b),
        sIsNaN(c),
        sIsSNaN(a) || sIsSNaN(b) || sIsSNaN(c),
        f32FromBits(a),
        f32FromBits(b),
        f32FromBits(c),
        negProd,
        negAdd,
        false,
        rm,
      );
      writeS(fw, rd, r);
    }
    s.mstatusFs = 3;
    accrue(s);
    return true;
  }

  const funct5 = inst >>> 27;
  const fmt = dbl ? DOUBLE : SINGLE;
  // Operand values and NaN-ness (rs2 read even where unused: harmless).
  let a: number;
  let b: number;
  let aNaN: boolean;
  let bNaN: boolean;
  let aSNaN: boolean;
  let bSNaN: boolean;
  let aBits = 0;
  let bBits = 0;
  if (dbl) {
    a = fd[rs1]!;
    b = fd[rs2]!;
    aNaN = dIsNaN(fw, rs1);
    bNaN = dIsNaN(fw, rs2);
    aSNaN = aNaN && dIsSNaN(fw, rs1);
    bSNaN = bNaN && dIsSNaN(fw, rs2);
  } else {
    aBits = sBits(fw, rs1);
    bBits = sBits(fw, rs2);
    a = f32FromBits(aBits);
    b = f32FromBits(bBits);
    aNaN = sIsNaN(aBits);
    bNaN = sIsNaN(bBits);
    aSNaN = aNaN && sIsSNaN(aBits);
    bSNaN = bNaN && sIsSNaN(bBits);
  }

  let r = 0;
  switch (funct5) {
    case 0x00: // FADD
    case 0x01: // FSUB
    case 0x02: // FMUL
    case 0x03: // FDIV
      if (rm > 4) return illegalRm(s, inst);
      if (aNaN || bNaN) {
        if (aSNaN || bSNaN) raiseFlags(NV);
        r = NaN;
      } else if (funct5 === 0x00) r = fadd(a, b, fmt, rm);
      else if (funct5 === 0x01) r = fadd(a, -b, fmt, rm);
      else if (funct5 === 0x02) r = fmul(a, b, fmt, rm);
      else r = fdiv(a, b, fmt, rm);
      break;
    case 0x0b: // FSQRT
      if (rm > 4) return illegalRm(s, inst);
      if (aNaN) {
        if (aSNaN) raiseFlags(NV);
        r = NaN;
      } else r = fsqrt(a, fmt, rm);
      break;
    case 0x04: {
      // FSGNJ / FSGNJN / FSGNJX: sign bit games on raw bits, NaN payloads kept.
      if (dbl) {
        const hiA = fw[2 * rs1 + 1]!;
        const hiB = fw[2 * rs2 + 1]!;
        const sign = f3 === 0 ? hiB : f3 === 1 ? ~hiB : hiA ^ hiB;
        fw[2 * rd] = fw[2 * rs1]!;
        fw[2 * rd + 1] = (hiA & 0x7fffffff) | (sign & 0x80000000);
      } else {
        const sign = f3 === 0 ? bBits : f3 === 1 ? ~bBits : aBits ^ bBits;
        fw[2 * rd] = (aBits & 0x7fffffff) | (sign & 0x80000000);
        fw[2 * rd + 1] = -1;
      }
      s.mstatusFs = 3;
      return true;
    }
    case 0x05: // FMIN / FMAX (2.2: minimumNumber / maximumNumber)
      if (aSNaN || bSNaN) raiseFlags(NV);
      if (aNaN && bNaN) r = NaN;
      else if (aNaN) r = b;
      else if (bNaN) r = a;
      else if (a === 0 && b === 0) {
        const aNeg = 1 / a < 0;
        const bNeg = 1 / b < 0;
        r = f3 === 0 ? (aNeg || bNeg ? -0 : 0) : aNeg && bNeg ? -0 : 0;
      } else r = f3 === 0 ? (a < b ? a : b) : a > b ? a : b;
      break;
    case 0x08: // FCVT.S.D (fmt S, rs2 = 1) / FCVT.D.S (fmt D, rs2 = 0)
      if (rm > 4) return illegalRm(s, inst);
      if (dbl) {
        // From single: exact.
        const sb = sBits(fw, rs1);
        if (sIsNaN(sb)) {
          if (sIsSNaN(sb)) raiseFlags(NV);
          r = NaN;
        } else r = f32FromBits(sb);
      } else {
        const x = fd[rs1]!;
        if (dIsNaN(fw, rs1)) {
          if (dIsSNaN(fw, rs1)) raiseFlags(NV);
          r = NaN;
        } else if (x === 0 || x === Infinity || x === -Infinity) r = x;
        else r = roundPair(x, 0, 0, SINGLE, rm);
      }
      break;
    case 0x14: {
      // FEQ (quiet: NV only for signaling NaNs) / FLT / FLE (signaling: any NaN)
      let v = 0;
      if (f3 === 2) {
        if (aSNaN || bSNaN) raiseFlags(NV);
        v = a === b ? 1 : 0;
      } else {
        if (aNaN || bNaN) raiseFlags(NV);
        v = (f3 === 1 ? a < b : a <= b) ? 1 : 0;
      }
      writeX(s, rd, v, 0);
      accrue(s);
      return true;
    }
    case 0x18: // FCVT.{W,WU,L,LU}.fmt
      if (rm > 4) return illegalRm(s, inst);
      toInt(aNaN ? NaN : a, rs2, rm);
      writeX(s, rd, INT_LO, INT_HI);
      accrue(s);
      return true;
    case 0x1a: // FCVT.fmt.{W,WU,L,LU}
      if (rm > 4) return illegalRm(s, inst);
      r = fromInt(s.xl[rs1]!, s.xh[rs1]!, rs2, fmt, rm);
      break;
    case 0x1c:
      if (f3 === 0) {
        // FMV.X.W / FMV.X.D: raw bits (FMV.X.W sign-extends bit 31, boxed or not).
        const lo = fw[2 * rs1]!;
        writeX(s, rd, lo, dbl ? fw[2 * rs1 + 1]! : lo >> 31);
      } else {
        // FCLASS
        let c: number;
        if (dbl) {
          const hi = fw[2 * rs1 + 1]!;
          const lo = fw[2 * rs1]!;
          const ex = (hi >>> 20) & 0x7ff;
          c = fclassBits(hi < 0, ex === 0x7ff, ex === 0, (hi & 0xfffff) === 0 && lo === 0, (hi & 0x80000) !== 0);
        } else {
          const ex = (aBits >>> 23) & 0xff;
          c = fclassBits(aBits < 0, ex === 0xff, ex === 0, (aBits & 0x7fffff) === 0, (aBits & 0x400000) !== 0);
        }
        writeX(s, rd, c, 0);
      }
      return true;
    case 0x1e: // FMV.W.X / FMV.D.X
      fw[2 * rd] = s.xl[rs1]!;
      fw[2 * rd + 1] = dbl ? s.xh[rs1]! : -1;
      s.mstatusFs = 3;
      return true;
    default:
      // The decoder lets nothing else through.
      raiseException(s, Cause.IllegalInstruction, inst | 0, 0);
      return false;
  }
  if (dbl) writeD(fw, fd, rd, r);
  else writeS(fw, rd, r);
  s.mstatusFs = 3;
  accrue(s);
  return true;
}

/** A dynamic rounding mode while frm holds 5, 6 or 7: illegal instruction (11.2). */
function illegalRm(s: HartState, inst: number): boolean {
  raiseException(s, Cause.IllegalInstruction, inst | 0, 0);
  return false;
}

/** NaN and infinity rules of the fused multiply-add around ffma. */
function fma3(
  aNaN: boolean,
  bNaN: boolean,
  cNaN: boolean,
  anySNaN: boolean,
  a: number,
  b: number,
  c: number,
  negProd: boolean,
  negAdd: boolean,
  dbl: boolean,
  rm: number,
): number {
  if (aNaN || bNaN || cNaN) {
    // inf * 0 is invalid even when the addend is a quiet NaN (11.6).
    const infZero = !aNaN && !bNaN && ((a === 0 && (b === Infinity || b === -Infinity)) || (b === 0 && (a === Infinity || a === -Infinity)));
    if (anySNaN || infZero) raiseFlags(NV);
    return NaN;
  }
  return ffma(negProd ? -a : a, b, negAdd ? -c : c, dbl ? DOUBLE : SINGLE, rm);
}

// ---- Loads and stores: through the integer slow paths with SINK as the carrier, so
//      they share translation, page states, MMIO and misaligned handling ----

/** The raw instruction of an FP load/store decoded from (op fields, imm) for the tval of
 *  illegal-instruction: the 16-bit parcel for a compressed form, else rebuilt. */
function memInstBits(isStore: boolean, size: number, r: number, rs1: number, imm: number): number {
  const parcel = imm >>> 16;
  if (parcel !== 0) return parcel;
  const off = imm & 0xfff;
  const f3 = size === 4 ? 2 : 3;
  if (isStore) return ((off >>> 5) << 25) | (r << 20) | (rs1 << 15) | (f3 << 12) | ((off & 31) << 7) | 0x27;
  return (off << 20) | (rs1 << 15) | (f3 << 12) | (r << 7) | 0x07;
}

/** FLW/FLD into f[rd]; false after an exception (s.pc = the instruction). */
export function fpLoad(s: HartState, rd: number, rs1: number, imm: number, size: 4 | 8): boolean {
  if (fpOff(s)) {
    raiseException(s, Cause.IllegalInstruction, memInstBits(false, size, rd, rs1, imm), 0);
    return false;
  }
  if (!loadSlow(s, rs1, (imm << 20) >> 20, size, true, SINK)) return false;
  const fw = s.fw;
  fw[2 * rd] = s.xl[SINK]!;
  fw[2 * rd + 1] = size === 8 ? s.xh[SINK]! : -1; // FLW NaN-boxes
  s.mstatusFs = 3;
  return true;
}

/** FSW/FSD of f[rs2] (FSW stores the low 32 bits as they are, boxed or not). */
export function fpStore(s: HartState, rs2: number, rs1: number, imm: number, size: 4 | 8): boolean {
  if (fpOff(s)) {
    raiseException(s, Cause.IllegalInstruction, memInstBits(true, size, rs2, rs1, imm), 0);
    return false;
  }
  s.xl[SINK] = s.fw[2 * rs2]!;
  s.xh[SINK] = s.fw[2 * rs2 + 1]!;
  return storeSlow(s, rs1, (imm << 20) >> 20, size, SINK);
}

/** FP instructions are illegal while mstatus.FS is Off, and with V=1 also while HS's own
 *  mstatus.FS is (priv H 8.2.10; with V=1 the live FS is vsstatus.FS, HS's waits in
 *  HState: hypervisor/virt.ts). */
export function fpOff(s: HartState): boolean {
  return s.mstatusFs === 0 || (s.virt !== 0 && s.h!.bkFs === 0);
}
