// F/D arithmetic on non-NaN operands (the caller turns NaN operands into the canonical NaN
// and raises NV for signaling ones, execute.ts): exact results as (s + t) * 2^scale
// pairs, rounded by round.ts. Each returns the rounded value as a double (NaN = the
// canonical NaN, after NV) and ORs its flags into FLAGS.
//
// Paths: a fast one where the error-free transformations are exact in place (operands
// and result well inside the double range), and a normalized one otherwise, where the
// operands are scaled to [1, 2) and the exponents carried in `scale`. Singles always take
// the direct path: their products are exact in a double, and their range sits far inside.

import { addRoundOdd, DOUBLE, DZ, ERR, exponentOf, ldexp, NV, NX, raiseFlags, RDN, RNE, roundPair, twoProduct, twoSum, type Format } from './round.js';

const LO_SAFE = 2 ** -900;
const HI_SAFE = 2 ** 900;

/** Sign of an exact zero sum of two operands of opposite sign or both zero (IEEE 6.3). */
function zeroSum(a: number, b: number, rm: number): number {
  const aNeg = Object.is(a, -0) || a < 0;
  const bNeg = Object.is(b, -0) || b < 0;
  if (a === 0 && b === 0 && aNeg === bNeg) return aNeg ? -0 : 0;
  return rm === RDN ? -0 : 0;
}

function isNegZero(x: number): boolean {
  return x === 0 && 1 / x < 0;
}

/** Rounds an exact double pair (s, t), s finite non-zero, to fmt with the fast exits. */
function finish(s: number, t: number, fmt: Format, rm: number): number {
  if (fmt === DOUBLE) {
    if (t === 0) return s;
    if (rm === RNE && Math.abs(s) > 2 ** -1000) {
      raiseFlags(NX);
      return s;
    }
  }
  return roundPair(s, t, 0, fmt, rm);
}

export function fadd(a: number, b: number, fmt: Format, rm: number): number {
  if (a === Infinity || a === -Infinity || b === Infinity || b === -Infinity) {
    if (a + b !== a + b) {
      raiseFlags(NV); // inf - inf
      return NaN;
    }
    return a + b;
  }
  let s = twoSum(a, b);
  let t = ERR;
  if (s === 0 && t === 0) return zeroSum(a, b, rm);
  if (s === Infinity || s === -Infinity) {
    // Overflowed in the double itself: redo a quarter as large (both operands are huge,
    // so exact), and let roundPair decide overflow in the mode.
    s = twoSum(a / 4, b / 4);
    t = ERR;
    return roundPair(s, t, 2, fmt, rm);
  }
  if (s === 0) {
    // Not reachable: a zero TwoSum result is exact.
    return zeroSum(a, b, rm);
  }
  return finish(s, t, fmt, rm);
}

export function fmul(a: number, b: number, fmt: Format, rm: number): number {
  if (a === Infinity || a === -Infinity || b === Infinity || b === -Infinity) {
    if (a === 0 || b === 0) {
      raiseFlags(NV); // 0 * inf
      return NaN;
    }
    return a * b;
  }
  if (a === 0 || b === 0) return a * b; // signed zero, exact
  if (fmt !== DOUBLE) return roundPair(a * b, 0, 0, fmt, rm); // 24 x 24 bits: exact
  const p = a * b;
  const ap = Math.abs(p);
  if (ap > LO_SAFE && ap < HI_SAFE && Math.abs(a) < HI_SAFE && Math.abs(b) < HI_SAFE) {
    const s = twoProduct(a, b);
    return finish(s, ERR, fmt, rm);
  }
  const ea = exponentOf(a);
  const eb = exponentOf(b);
  const s = twoProduct(ldexp(a, -ea), ldexp(b, -eb));
  return roundPair(s, ERR, ea + eb, fmt, rm);
}

export function fdiv(a: number, b: number, fmt: Format, rm: number): number {
  const aInf = a === Infinity || a === -Infinity;
  const bInf = b === Infinity || b === -Infinity;
  if (aInf || bInf) {
    if (aInf && bInf) {
      raiseFlags(NV);
      return NaN;
    }
    return a / b; // inf / x = inf, x / inf = 0, signs by xor
  }
  if (b === 0) {
    if (a === 0) {
      raiseFlags(NV);
      return NaN;
    }
    raiseFlags(DZ);
    return a / b;
  }
  if (a === 0) return a / b;
  let x = a;
  let y = b;
  let scale = 0;
  if (fmt === DOUBLE) {
    const ea = exponentOf(a);
    const eb = exponentOf(b);
    x = ldexp(a, -ea);
    y = ldexp(b, -eb);
    scale = ea - eb;
  }
  const q = x / y;
  // Residual x - q*y is exact (it is representable, and Sterbenz covers x - RN(q*y)).
  const ph = twoProduct(q, y);
  const rem = x - ph - ERR;
  if (rem === 0) return fmt === DOUBLE && scale === 0 ? q : roundPair(q, 0, scale, fmt, rm);
  // A quotient of two p-bit numbers is never a midpoint above the subnormal range, and
  // below it the grid is coarse: only the error's sign matters. Half of rem/y keeps it
  // strictly under half an ulp.
  return roundPair(q, (rem / y) * 0.5, scale, fmt, rm);
}

export function fsqrt(a: number, fmt: Format, rm: number): number {
  if (a === 0 || a === Infinity) return a; // sqrt(-0) = -0
  if (a < 0) {
    raiseFlags(NV);
    return NaN;
  }
  let x = a;
  let scale = 0;
  if (fmt === DOUBLE) {
    let e = exponentOf(a);
    if (e % 2 !== 0) e -= 1; // keep the exponent even: x in [1, 4)
    x = ldexp(a, -e);
    scale = e / 2;
  }
  const q = Math.sqrt(x);
  const ph = twoProduct(q, q);
  const rem = x - ph - ERR;
  if (rem === 0) return roundPair(q, 0, scale, fmt, rm);
  return roundPair(q, (rem / q) * 0.25, scale, fmt, rm);
}

/**
 * a * b + c with a single rounding. Signs of the FMSUB/FNMSUB/FNMADD forms are applied by
 * the caller to the operands (softfloat's negations of product and addend).
 */
export function ffma(a: number, b: number, c: number, fmt: Format, rm: number): number {
  const aInf = a === Infinity || a === -Infinity;
  const bInf = b === Infinity || b === -Infinity;
  const cInf = c === Infinity || c === -Infinity;
  if (aInf || bInf) {
    if (a === 0 || b === 0) {
      raiseFlags(NV);
      return NaN;
    }
    const p = a * b;
    if (cInf && p !== c) {
      raiseFlags(NV);
      return NaN;
    }
    return p;
  }
  if (cInf) return c;
  if (a === 0 || b === 0) {
    const p = a * b; // signed zero
    if (c !== 0) return c;
    return zeroSum(p, c, rm);
  }
  if (c === 0) {
    // The exact sum is the product itself.
    return fmul(a, b, fmt, rm);
  }
  if (fmt !== DOUBLE) {
    // The single product is exact in a double: one TwoSum gives the exact sum.
    const s = twoSum(a * b, c);
    const t = ERR;
    if (s === 0 && t === 0) return rm === RDN ? -0 : 0;
    return roundPair(s, t, 0, fmt, rm);
  }
  const aa = Math.abs(a);
  const ab = Math.abs(b);
  const ac = Math.abs(c);
  if (aa > 2 ** -440 && aa < 2 ** 440 && ab > 2 ** -440 && ab < 2 ** 440 && ac > 2 ** -880 && ac < 2 ** 880) {
    // Everything well inside the range: the same algorithm without scaling.
    const ph = twoProduct(a, b);
    const pl = ERR;
    const th0 = twoSum(c, ph);
    const v0 = addRoundOdd(ERR, pl);
    const s0 = twoSum(th0, v0);
    if (s0 === 0) return rm === RDN ? -0 : 0;
    return finish(s0, ERR, fmt, rm);
  }
  const ea = exponentOf(a);
  const eb = exponentOf(b);
  const e = ea + eb;
  const uh = twoProduct(ldexp(a, -ea), ldexp(b, -eb)); // product in [1, 4), exact pair
  const ul = ERR;
  const ec = exponentOf(c);
  let cs: number;
  if (ec - e > 110) {
    // The product is below c's rounding position: it only says which way to go.
    const neg = uh < 0;
    return roundPair(ldexp(c, -ec), neg ? -(2 ** -200) : 2 ** -200, ec, fmt, rm);
  } else if (e - ec > 110) {
    cs = c > 0 ? 2 ** -200 : -(2 ** -200); // c only as a sticky below the product
  } else {
    cs = ldexp(c, -e);
  }
  // Boldo-Melquiond: exact c + uh as th + tl, then the two small terms rounded to odd,
  // then the final sum carries the sticky of everything below th's rounding position.
  const th = twoSum(cs, uh);
  const tl = ERR;
  const v = addRoundOdd(tl, ul);
  const s = twoSum(th, v);
  const t = ERR;
  if (s === 0) return rm === RDN ? -0 : 0;
  return roundPair(s, t, e, fmt, rm);
}

export { isNegZero };
