// Correct rounding for F and D in JavaScript, whose arithmetic only rounds to nearest-even
// in binary64 (unpriv spec ch. 11-12; IEEE 754-2008 4.3, 7).
//
// Every operation first computes its exact result as an unevaluated pair: the exact value
// is (s + t) * 2^scale where s is a finite non-zero double and t is the error term,
// either exactly (TwoSum, TwoProduct) or as a "sticky": a value of the right sign that is
// too small to decide anything but the direction (division, square root). `roundPair`
// then rounds that value to the target format's grid in any of the five modes, detects
// overflow and underflow (tininess after rounding, as RISC-V specifies), and ORs the
// flags into FLAGS. Scaling keeps the pair away from the double range's edges, so the
// error-free transformations stay exact for subnormal and huge results too.

/** fflags bits (unpriv 11.2). */
export const NX = 1;
export const UF = 2;
export const OF = 4;
export const DZ = 8;
export const NV = 16;

/** Rounding modes (frm / rm field). */
export const RNE = 0;
export const RTZ = 1;
export const RDN = 2;
export const RUP = 3;
export const RMM = 4;

/** Flags raised by the current operation; the caller clears and collects them. */
export let FLAGS = 0;
export function clearFlags(): void {
  FLAGS = 0;
}
export function raiseFlags(f: number): void {
  FLAGS |= f;
}

/** A target format: precision p (with the hidden bit) and the normal exponent range. */
export interface Format {
  readonly p: number;
  readonly emin: number;
  readonly emax: number;
}
export const SINGLE: Format = { p: 24, emin: -126, emax: 127 };
export const DOUBLE: Format = { p: 53, emin: -1022, emax: 1023 };

// Scratch views for bit access (no allocation on the hot path).
const F64 = new Float64Array(1);
const W32 = new Int32Array(F64.buffer);
const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** floor(log2|x|) for a finite non-zero double, subnormals included. */
export function exponentOf(x: number): number {
  F64[0] = x;
  const e = (W32[1]! >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  F64[0] = x * 2 ** 64;
  return ((W32[1]! >>> 20) & 0x7ff) - 1023 - 64;
}

/** True when |x| is a power of two (its significand is 1.0). */
function isPow2(x: number): boolean {
  F64[0] = x;
  if ((W32[1]! & 0x7ff00000) === 0) {
    F64[0] = x * 2 ** 64;
  }
  return (W32[1]! & 0xfffff) === 0 && W32[0] === 0;
}

const P2 = new Float64Array(1);
const P2W = new Int32Array(P2.buffer);

/** 2^n for an integer n in [-1074, 1023], built from its exponent bits (Math.pow with a
 *  variable exponent was a seventh of the FPU's time). */
function pow2(n: number): number {
  if (n < -1022) return pow2(n + 100) * 2 ** -100;
  P2W[0] = 0;
  P2W[1] = (n + 1023) << 20;
  return P2[0]!;
}

/** x * 2^n, exact whenever the result is representable (steps stay between x and it). */
export function ldexp(x: number, n: number): number {
  while (n > 1000) {
    x *= 2 ** 1000;
    n -= 1000;
  }
  while (n < -1000) {
    x *= 2 ** -1000;
    n += 1000;
  }
  return x * pow2(n);
}

/** Bits of a float32 value (it must be exactly representable, or NaN). */
export function f32Bits(v: number): number {
  if (v !== v) return 0x7fc00000;
  F32[0] = v;
  return I32[0]!;
}

/** The float32 whose bits are `b`. */
export function f32FromBits(b: number): number {
  I32[0] = b;
  return F32[0]!;
}

// Result of the last TwoSum / TwoProduct.
export let ERR = 0;

/** s = RN(a + b), ERR = a + b - s exactly (Knuth; no overflow assumed). */
export function twoSum(a: number, b: number): number {
  const s = a + b;
  const bb = s - a;
  ERR = a - (s - bb) + (b - bb);
  return s;
}

const SPLIT = 134217729; // 2^27 + 1

/** p = RN(a * b), ERR = a * b - p exactly (Dekker/Veltkamp); needs |a|, |b| < 2^995 and
 *  no underflow in the partial products (|a * b| >= 2^-969). */
export function twoProduct(a: number, b: number): number {
  const p = a * b;
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  ERR = al * bl - (p - ah * bh - al * bh - ah * bl);
  return p;
}

/** Rounds a magnitude given as its integer part `fl` and the class of its fraction
 *  (0 exact, 1 below half, 2 half, 3 above half) in mode rm; `neg` is the value's sign. */
export function pick(fl: number, frac: number, rm: number, neg: boolean): number {
  if (frac === 0) return fl;
  switch (rm) {
    case RNE:
      return frac === 1 ? fl : frac === 3 ? fl + 1 : fl % 2 === 0 ? fl : fl + 1;
    case RMM:
      return frac === 1 ? fl : fl + 1;
    case RTZ:
      return fl;
    case RDN:
      return neg ? fl + 1 : fl;
    default: // RUP
      return neg ? fl : fl + 1;
  }
}

// Integer part and fraction class of the last `grid` call.
let G_FL = 0;
let G_FRAC = 0;

/** Places |s + t| (s > 0 here, t sticky or exact, |t| below s's half ulp) on the grid of
 *  quantum q: G_FL = floor, G_FRAC = the fraction's class (see pick). */
function grid(a: number, t: number, q: number): void {
  const m = a / q;
  let fl = Math.floor(m);
  const f = m - fl;
  let cls: number;
  if (f !== 0) {
    // |t| / q is far below the distance from f to 0.5 unless f is exactly 0.5.
    cls = f < 0.5 ? 1 : f > 0.5 ? 3 : t > 0 ? 3 : t < 0 ? 1 : 2;
  } else if (t === 0) {
    cls = 0;
  } else {
    const d = 2 * Math.abs(t); // compared with q: below, at or above half a quantum
    if (t > 0) {
      cls = d < q ? 1 : d === q ? 2 : 3;
    } else {
      fl -= 1;
      cls = d < q ? 3 : d === q ? 2 : 1;
    }
  }
  G_FL = fl;
  G_FRAC = cls;
}

/**
 * Rounds (s + t) * 2^scale to `fmt` in mode `rm`; returns the result as a double (±Inf
 * on overflow, ±0 when it underflows to zero) and raises NX/UF/OF. s is finite, non-zero;
 * |t| < ulp(s) / 2, with the sign of the exact error.
 */
export function roundPair(s: number, t: number, scale: number, fmt: Format, rm: number): number {
  const neg = s < 0;
  const a = neg ? -s : s;
  const tt = neg ? -t : t;
  // Exponent of the exact magnitude: a's, one less when a is a power of two the error
  // brings below it (then the grid below is twice as fine).
  let e = exponentOf(a);
  if (tt < 0 && isPow2(a)) e -= 1;
  const ee = e + scale;
  if (ee < fmt.emin - fmt.p) {
    // Below half the smallest subnormal: 0, or that subnormal when rounding away from 0.
    FLAGS |= NX | UF;
    const up = (rm === RUP && !neg) || (rm === RDN && neg);
    const r = up ? ldexp(1, fmt.emin - fmt.p + 1) : 0;
    return neg ? -r : r;
  }
  const qe = Math.max(ee, fmt.emin) - (fmt.p - 1); // quantum exponent (subnormals clamp)
  const q = pow2(qe - scale);
  grid(a, tt, q);
  const inexact = G_FRAC !== 0;
  const n = pick(G_FL, G_FRAC, rm, neg);
  if (inexact) {
    FLAGS |= NX;
    if (ee < fmt.emin) {
      // Tiny unless rounding with an unbounded exponent reaches 2^emin.
      const qu = pow2(ee - (fmt.p - 1) - scale);
      grid(a, tt, qu);
      const nu = pick(G_FL, G_FRAC, rm, neg);
      if (nu * qu < pow2(fmt.emin - scale)) FLAGS |= UF;
    }
  }
  if (n === 0) return neg ? -0 : 0;
  // Overflow: the rounded magnitude n * 2^qe reaches 2^(emax + 1).
  if (exponentOf(n) + qe > fmt.emax) {
    FLAGS |= OF | NX;
    const toInf = rm === RNE || rm === RMM || (rm === RUP && !neg) || (rm === RDN && neg);
    const big = toInf ? Infinity : fmt.p === 24 ? 3.4028234663852886e38 : Number.MAX_VALUE;
    return neg ? -big : big;
  }
  const r = ldexp(n, qe);
  return neg ? -r : r;
}

/** Round-to-odd of x + y (the sticky step of the fused multiply-add, Boldo-Melquiond). */
export function addRoundOdd(x: number, y: number): number {
  const u = twoSum(x, y);
  const err = ERR;
  if (err === 0) return u;
  F64[0] = u;
  if ((W32[0]! & 1) !== 0) return u;
  // Step to the odd neighbour on err's side (u is even, so its lowest bit is 0).
  const away = u > 0 === err > 0; // towards larger magnitude
  if (away) {
    W32[0] = W32[0]! + 1; // lowest bit 0: no carry into the high word
  } else {
    // Towards smaller magnitude: the neighbour below in magnitude.
    if (W32[0] === 0) {
      W32[0] = -1;
      W32[1] = W32[1]! - 1;
    } else {
      W32[0] = W32[0]! - 1;
    }
  }
  return F64[0]!;
}
