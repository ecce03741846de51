// The FPU's arithmetic against the BigInt reference (oracle.test-util.ts) on random
// operands biased toward the hard places (subnormals, the overflow edge, near-ties,
// cancellation), in all five rounding modes: result bits and NX/UF/OF flags.

import { describe, expect, it } from 'vitest';
import { fadd, fdiv, ffma, fmul, fsqrt } from './arith.js';
import { fromInt, INT_HI, INT_LO, toInt } from './convert.js';
import { clearFlags, DOUBLE, f32Bits, FLAGS, roundPair, SINGLE } from './round.js';
import * as o from './oracle.test-util.js';

let seed = Number(process.env.FPU_SEED ?? 12345);
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

/** A random finite non-zero value of the format, by bits, exponent biased to the edges. */
function randomBits(f: o.Fmt): bigint {
  const expBits = f.bits - f.p;
  const maxExp = (1 << expBits) - 2;
  const r = rnd() % 8;
  let ex: number;
  if (r === 0)
    ex = 0; // subnormal
  else if (r === 1) ex = 1 + (rnd() % 4);
  else if (r === 2) ex = maxExp - (rnd() % 4);
  else if (r === 3)
    ex = f.emax + (rnd() % 5) - 2; // near 1
  else ex = 1 + (rnd() % maxExp);
  let frac = 0n;
  const fb = f.p - 1;
  const style = rnd() % 4;
  if (style === 0) frac = 0n;
  else if (style === 1)
    frac = (1n << BigInt(fb)) - 1n - BigInt(rnd() % 4); // all ones-ish
  else frac = ((BigInt(rnd()) << 32n) | BigInt(rnd())) & ((1n << BigInt(fb)) - 1n);
  if (ex === 0 && frac === 0n) frac = 1n;
  const sign = rnd() % 2 === 0 ? 0n : 1n;
  return (sign << BigInt(f.bits - 1)) | (BigInt(ex) << BigInt(fb)) | frac;
}

const toNum = (b: bigint, f: o.Fmt): number => (f === o.D ? o.doubleOfBits(b) : o.singleOfBits(b));
const toBits = (x: number, f: o.Fmt): bigint => (f === o.D ? o.bitsOfDouble(x) : BigInt(f32Bits(x) >>> 0));
const fmtOf = (f: o.Fmt) => (f === o.D ? DOUBLE : SINGLE);

function check(name: string, got: number, flags: number, want: [bigint, number], f: o.Fmt, ctx: unknown): void {
  const gotBits = toBits(got, f);
  if (gotBits !== want[0] || (flags & 7) !== want[1]) {
    expect({ name, ctx, bits: gotBits.toString(16), flags: flags & 7 }).toEqual({
      name,
      ctx,
      bits: want[0].toString(16),
      flags: want[1],
    });
  }
}

const N = Number(process.env.FPU_N ?? 3000);
const MODES = [0, 1, 2, 3, 4];

describe.each([
  ['single', o.S],
  ['double', o.D],
])('%s arithmetic matches the exact reference', (_n, f) => {
  const F = fmtOf(f);
  it.each(MODES)('add/sub in rm %i', (rm) => {
    for (let i = 0; i < N; i++) {
      const ab = randomBits(f);
      // Half the time b is close to -a: cancellation.
      let bb = randomBits(f);
      if (i % 2 === 0) bb = (ab ^ (1n << BigInt(f.bits - 1))) + BigInt((rnd() % 5) - 2);
      const a = toNum(ab, f);
      const b = toNum(bb, f);
      if (!Number.isFinite(b)) continue;
      clearFlags();
      const r = fadd(a, b, F, rm);
      const ea = o.decode(ab, f)!;
      const eb = o.decode(bb, f)!;
      const sum = o.add(ea, eb);
      const want: [bigint, number] = sum === null ? [toBits(rm === 2 ? -0 : 0, f), 0] : o.roundExact(sum, f, rm);
      check('add', r, FLAGS, want, f, { a: ab.toString(16), b: bb.toString(16), rm });
    }
  });

  it.each(MODES)('mul in rm %i', (rm) => {
    for (let i = 0; i < N; i++) {
      const ab = randomBits(f);
      const bb = randomBits(f);
      clearFlags();
      const r = fmul(toNum(ab, f), toNum(bb, f), F, rm);
      check('mul', r, FLAGS, o.roundExact(o.mul(o.decode(ab, f)!, o.decode(bb, f)!), f, rm), f, { a: ab.toString(16), b: bb.toString(16), rm });
    }
  });

  it.each(MODES)('div in rm %i', (rm) => {
    for (let i = 0; i < N; i++) {
      const ab = randomBits(f);
      const bb = randomBits(f);
      clearFlags();
      const r = fdiv(toNum(ab, f), toNum(bb, f), F, rm);
      check('div', r, FLAGS, o.div(o.decode(ab, f)!, o.decode(bb, f)!, f, rm), f, { a: ab.toString(16), b: bb.toString(16), rm });
    }
  });

  it.each(MODES)('sqrt in rm %i', (rm) => {
    for (let i = 0; i < N / 2; i++) {
      const ab = randomBits(f) & ((1n << BigInt(f.bits - 1)) - 1n);
      clearFlags();
      const r = fsqrt(toNum(ab, f), F, rm);
      check('sqrt', r, FLAGS, o.sqrt(o.decode(ab, f)!, f, rm), f, { a: ab.toString(16), rm });
    }
  });

  it.each(MODES)('fused multiply-add in rm %i', (rm) => {
    for (let i = 0; i < N; i++) {
      const ab = randomBits(f);
      const bb = randomBits(f);
      let cb = randomBits(f);
      const ea = o.decode(ab, f)!;
      const eb = o.decode(bb, f)!;
      const prod = o.mul(ea, eb);
      if (i % 3 === 0) {
        // c close to -a*b: heavy cancellation, where a non-fused result differs.
        const [pb] = o.roundExact(prod, f, (rnd() % 4) as number);
        cb = (pb ^ (1n << BigInt(f.bits - 1))) + BigInt((rnd() % 3) - 1);
        const cv = toNum(cb, f);
        if (!Number.isFinite(cv) || cv === 0) continue;
      }
      const c = o.decode(cb, f)!;
      clearFlags();
      const r = ffma(toNum(ab, f), toNum(bb, f), toNum(cb, f), F, rm);
      const sum = o.add(prod, c);
      const want: [bigint, number] = sum === null ? [toBits(rm === 2 ? -0 : 0, f), 0] : o.roundExact(sum, f, rm);
      check('fma', r, FLAGS, want, f, { a: ab.toString(16), b: bb.toString(16), c: cb.toString(16), rm });
    }
  });

  it.each(MODES)('conversion from 64-bit integers in rm %i', (rm) => {
    for (let i = 0; i < N; i++) {
      const v = BigInt.asIntN(64, ((BigInt(rnd()) << 32n) | BigInt(rnd())) >> BigInt(rnd() % 64));
      for (const unsigned of [false, true]) {
        const x = unsigned ? BigInt.asUintN(64, v) : v;
        clearFlags();
        const r = fromInt(Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)), unsigned ? 3 : 2, F, rm);
        const want: [bigint, number] = x === 0n ? [0n, 0] : o.roundRational(x < 0n, x < 0n ? -x : x, 1n, 0, f, rm);
        check('fromInt', r, FLAGS, want, f, { x, rm });
      }
    }
  });
});

describe('single from double (fcvt.s.d) matches the reference', () => {
  it.each(MODES)('rm %i', (rm) => {
    for (let i = 0; i < N; i++) {
      const db = randomBits(o.D);
      // Doubles in and around the single range.
      const x = o.doubleOfBits(db) * 2 ** -(o.decode(db, o.D)!.e + 52) * 2 ** ((rnd() % 320) - 170);
      if (x === 0 || !Number.isFinite(x)) continue;
      clearFlags();
      const r = roundPair(x, 0, 0, SINGLE, rm);
      check('s.d', r, FLAGS, o.roundExact(o.decode(o.bitsOfDouble(x), o.D)!, o.S, rm), o.S, { x, rm });
    }
  });
});

describe('float to integer (fcvt.{w,wu,l,lu})', () => {
  const cases: [number, number, number, bigint, number][] = [
    // value, kind (0 W, 1 WU, 2 L, 3 LU), rm, result (64-bit, signed view), flags
    [NaN, 0, 0, 0x7fffffffn, 16],
    [NaN, 1, 0, -1n, 16],
    [NaN, 2, 0, 2n ** 63n - 1n, 16],
    [NaN, 3, 0, -1n, 16],
    [Infinity, 0, 0, 0x7fffffffn, 16],
    [-Infinity, 0, 0, -(2n ** 31n), 16],
    [-Infinity, 3, 0, 0n, 16],
    [2147483647.5, 0, 0, 0x7fffffffn, 16], // rounds (even) to 2^31: out of range
    [2147483647.5, 0, 1, 0x7fffffffn, 1], // toward zero: in range, inexact
    [-2147483648.5, 0, 1, -(2n ** 31n), 1],
    [-2147483648.5, 0, 2, -(2n ** 31n), 16],
    [-0.5, 1, 1, 0n, 1], // negative to unsigned that rounds to 0: only inexact
    [-0.5, 1, 2, 0n, 16], // rounds to -1: invalid
    [-1, 3, 0, 0n, 16],
    [4294967295, 1, 0, -1n, 0], // WU result sign-extended
    [3e9, 1, 0, BigInt.asIntN(32, 3000000000n), 0],
    [2 ** 63, 2, 0, 2n ** 63n - 1n, 16],
    [-(2 ** 63), 2, 0, -(2n ** 63n), 0],
    [2 ** 64, 3, 0, -1n, 16],
    [2 ** 64 - 2048, 3, 0, BigInt.asIntN(64, 2n ** 64n - 2048n), 0],
    [2.5, 0, 0, 2n, 1],
    [2.5, 0, 4, 3n, 1],
    [-2.5, 0, 4, -3n, 1],
    [-2.5, 0, 3, -2n, 1],
    [-2.5, 0, 2, -3n, 1],
    [2.4, 2, 3, 3n, 1],
    [-0, 0, 0, 0n, 0],
  ];
  it.each(cases)('%s kind %i rm %i -> %s, flags %i', (x, kind, rm, want, flags) => {
    clearFlags();
    toInt(x, kind, rm);
    expect(BigInt.asIntN(64, (BigInt(INT_HI) << 32n) | BigInt(INT_LO >>> 0))).toBe(want);
    expect(FLAGS).toBe(flags);
  });
});
