// Conversions between integers and floats, and between the two formats (unpriv 11.7,
// 12.5). Integer results saturate with NV as the spec's table 11.4 says: NaN and +large
// give the largest value, -large the smallest (0 for unsigned); a value that rounds to an
// integer in range is only inexact (so -0.5 rounded toward zero is 0 for FCVT.WU, NX).
// 32-bit results, unsigned ones included, are sign-extended to 64 bits.

import { DOUBLE, ERR, NV, NX, pick, raiseFlags, roundPair, twoSum, type Format } from './round.js';

const TWO32 = 4294967296;
const TWO63 = 2 ** 63;
const TWO64 = 2 ** 64;

export const CVT_W = 0;
export const CVT_WU = 1;
export const CVT_L = 2;
export const CVT_LU = 3;

/** Integer result of toInt, as a pair. */
export let INT_LO = 0;
export let INT_HI = 0;

/** x rounded to an integer in mode rm (x finite; already integral above 2^52). */
function roundToInteger(x: number, rm: number): number {
  const neg = x < 0;
  const a = neg ? -x : x;
  if (a >= 2 ** 52) return x;
  const fl = Math.floor(a);
  const f = a - fl;
  const n = pick(fl, f === 0 ? 0 : f < 0.5 ? 1 : f === 0.5 ? 2 : 3, rm, neg);
  return neg ? -n : n;
}

/** FCVT.{W,WU,L,LU}.{S,D}: x (any double, NaN included) to an integer of `kind`. */
export function toInt(x: number, kind: number, rm: number): void {
  let r: number;
  let lo: number;
  let hi: number;
  if (x !== x)
    r = Infinity; // NaN converts as +large
  else if (x === Infinity || x === -Infinity) r = x;
  else r = roundToInteger(x, rm);
  switch (kind) {
    case CVT_W:
      if (r < -2147483648 || r > 2147483647) {
        raiseFlags(NV);
        lo = r < 0 ? -2147483648 : 2147483647;
      } else {
        lo = r | 0;
        if (r !== x) raiseFlags(NX);
      }
      hi = lo >> 31;
      break;
    case CVT_WU:
      if (r < 0 || r > 4294967295) {
        raiseFlags(NV);
        lo = r < 0 ? 0 : -1;
      } else {
        lo = r | 0; // bit 31 set: sign-extended, as the spec asks
        if (r !== x) raiseFlags(NX);
      }
      hi = lo >> 31;
      break;
    case CVT_L:
      if (r < -TWO63 || r >= TWO63) {
        raiseFlags(NV);
        lo = r < 0 ? 0 : -1;
        hi = r < 0 ? 0x80000000 | 0 : 0x7fffffff;
      } else {
        lo = r | 0; // ToInt32 is exact modulo 2^32 for any integral double
        hi = Math.floor(r / TWO32) | 0;
        if (r !== x) raiseFlags(NX);
      }
      break;
    default: // CVT_LU
      if (r < 0 || r >= TWO64) {
        raiseFlags(NV);
        lo = r < 0 ? 0 : -1;
        hi = lo;
      } else {
        lo = r | 0;
        hi = Math.floor(r / TWO32) | 0;
        if (r !== x) raiseFlags(NX);
      }
      break;
  }
  INT_LO = lo;
  INT_HI = hi;
}

/** FCVT.{S,D}.{W,WU,L,LU}: the integer (lo, hi) of `kind` rounded to fmt. */
export function fromInt(lo: number, hi: number, kind: number, fmt: Format, rm: number): number {
  let s: number;
  let t = 0;
  switch (kind) {
    case CVT_W:
      s = lo;
      break;
    case CVT_WU:
      s = lo >>> 0;
      break;
    case CVT_L:
      s = twoSum(hi * TWO32, lo >>> 0);
      t = ERR;
      break;
    default:
      s = twoSum((hi >>> 0) * TWO32, lo >>> 0);
      t = ERR;
      break;
  }
  if (s === 0) return 0; // an integer zero is +0 in every mode
  if (t === 0 && fmt === DOUBLE) return s; // below 2^53, or an exact large value
  return roundPair(s, t, 0, fmt, rm);
}
