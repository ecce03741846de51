// M extension: every instruction against a BigInt reference on edge values and random
// ones, plus the spec's division-by-zero and overflow table (unpriv 7.2).

import { describe, expect, it } from 'vitest';
import { e, exec, R, s64, u64 } from '../../harness.test-util.js';

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;
const EDGES = [
  0n,
  1n,
  -1n,
  2n,
  -2n,
  3n,
  7n,
  -7n,
  MIN,
  MAX,
  MIN + 1n,
  0xffff_ffffn,
  0x1_0000_0000n,
  -0x1_0000_0000n,
  0x7fff_ffffn,
  -0x8000_0000n,
  0x8000_0000n,
  2n ** 53n - 1n,
  2n ** 53n,
  -(2n ** 53n),
  2n ** 53n + 1n,
  0x1234_5678_9abc_def0n,
  -0x0fed_cba9_8765_4321n,
  0x0000_ffff_0000_ffffn,
  65535n,
  65536n,
  0x0010_0000_0000_0001n,
];

let seed = 0x2545f491;
function rand64(): bigint {
  // xorshift32 x2, biased toward interesting magnitudes by a random shift.
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const v = (BigInt(next()) << 32n) | BigInt(next());
  return s64(v >> BigInt(next() % 64));
}

const RANDOM: bigint[] = Array.from({ length: 60 }, rand64);
const PAIRS: [bigint, bigint][] = [];
for (const a of EDGES) for (const b of EDGES) PAIRS.push([a, b]);
for (let i = 0; i + 1 < RANDOM.length; i++) PAIRS.push([RANDOM[i]!, RANDOM[i + 1]!], [RANDOM[i]!, RANDOM[(i * 7) % RANDOM.length]! >> 20n]);

const sx32 = (v: bigint): bigint => BigInt.asIntN(32, v);
const ux32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const trunc = (a: bigint, b: bigint): bigint => a / b; // BigInt division truncates, as RISC-V

type Ref = (a: bigint, b: bigint) => bigint;
const REF: Record<string, [(rd: number, rs1: number, rs2: number) => number, Ref]> = {
  mul: [e.mul, (a, b) => s64(a * b)],
  mulh: [e.mulh, (a, b) => s64((a * b) >> 64n)],
  mulhsu: [e.mulhsu, (a, b) => s64((a * u64(b)) >> 64n)],
  mulhu: [e.mulhu, (a, b) => s64((u64(a) * u64(b)) >> 64n)],
  div: [e.div, (a, b) => (b === 0n ? -1n : a === MIN && b === -1n ? MIN : trunc(a, b))],
  divu: [e.divu, (a, b) => (b === 0n ? -1n : s64(u64(a) / u64(b)))],
  rem: [e.rem, (a, b) => (b === 0n ? a : a === MIN && b === -1n ? 0n : a % b)],
  remu: [e.remu, (a, b) => (b === 0n ? a : s64(u64(a) % u64(b)))],
  mulw: [e.mulw, (a, b) => sx32(a * b)],
  divw: [
    e.divw,
    (a, b) => {
      const x = sx32(a);
      const y = sx32(b);
      return y === 0n ? -1n : x === -(2n ** 31n) && y === -1n ? x : sx32(trunc(x, y));
    },
  ],
  divuw: [e.divuw, (a, b) => (ux32(b) === 0n ? -1n : sx32(ux32(a) / ux32(b)))],
  remw: [
    e.remw,
    (a, b) => {
      const x = sx32(a);
      const y = sx32(b);
      return y === 0n ? x : x === -(2n ** 31n) && y === -1n ? 0n : sx32(x % y);
    },
  ],
  remuw: [e.remuw, (a, b) => (ux32(b) === 0n ? sx32(a) : sx32(ux32(a) % ux32(b)))],
};

describe('M extension', () => {
  it.each(Object.keys(REF))('%s matches the reference on edge and random operands', (name) => {
    const [enc, ref] = REF[name]!;
    // One program per instruction: many pairs through a0/a1 -> a2 would need reloading,
    // so run batches of pairs, each result to its own register.
    const regs = [R.s2, R.s3, R.s4, R.s5, R.s6, R.s7, R.s8, R.s9, R.s10, R.s11, R.t3, R.t4, R.t5, R.t6];
    for (let i = 0; i < PAIRS.length; i += regs.length) {
      const batch = PAIRS.slice(i, i + regs.length);
      const prog: number[] = [];
      batch.forEach(([a, b], j) => prog.push(...e.li(R.a0, a), ...e.li(R.a1, b), enc(regs[j]!, R.a0, R.a1)));
      const m = exec(prog);
      batch.forEach(([a, b], j) => {
        expect({ name, a, b, got: m.x(regs[j]!) }).toEqual({ name, a, b, got: ref(a, b) });
      });
    }
  });

  it('rd may be rs1 or rs2 (operands read first)', () => {
    const m = exec([...e.li(R.a0, -7), ...e.li(R.a1, 2), e.mulh(R.a0, R.a0, R.a0), ...e.li(R.a2, 100), e.div(R.a1, R.a2, R.a1)]);
    expect(m.x(R.a0)).toBe(0n);
    expect(m.x(R.a1)).toBe(50n);
  });

  it('writes to x0 are dropped', () => {
    const m = exec([...e.li(R.a0, 5), e.mul(0, R.a0, R.a0), e.div(0, R.a0, 0), e.add(R.a1, 0, 0)]);
    expect(m.x(R.a1)).toBe(0n);
  });

  it('division by zero and overflow follow the spec table, without trapping', () => {
    const m = exec([
      ...e.li(R.a0, MIN),
      ...e.li(R.a1, -1),
      e.div(R.s2, R.a0, R.a1),
      e.rem(R.s3, R.a0, R.a1),
      e.div(R.s4, R.a0, 0),
      e.rem(R.s5, R.a0, 0),
      e.divu(R.s6, R.a0, 0),
      e.remu(R.s7, R.a0, 0),
      ...e.li(R.t0, -0x8000_0000),
      e.divw(R.s8, R.t0, R.a1),
      e.remw(R.s9, R.t0, R.a1),
      e.divuw(R.s10, R.t0, 0),
      e.remuw(R.s11, R.t0, 0),
    ]);
    expect([R.s2, R.s3, R.s4, R.s5, R.s6, R.s7, R.s8, R.s9, R.s10, R.s11].map((r) => m.x(r))).toEqual([
      MIN,
      0n,
      -1n,
      MIN,
      -1n,
      MIN,
      -(2n ** 31n),
      0n,
      -1n,
      -(2n ** 31n),
    ]);
    expect(m.hart.stats.exceptions).toBe(0);
  });

  it('MULH signs: each combination of operand signs', () => {
    const cases: [bigint, bigint][] = [
      [3n, 5n],
      [-3n, 5n],
      [3n, -5n],
      [-3n, -5n],
      [MIN, MIN],
      [MIN, MAX],
      [-1n, -1n],
      [MAX, MAX],
    ];
    for (const [a, b] of cases) {
      const m = exec([...e.li(R.a0, a), ...e.li(R.a1, b), e.mulh(R.a2, R.a0, R.a1), e.mulhsu(R.a3, R.a0, R.a1), e.mulhu(R.a4, R.a0, R.a1)]);
      expect(m.x(R.a2)).toBe(s64((a * b) >> 64n));
      expect(m.x(R.a3)).toBe(s64((a * u64(b)) >> 64n));
      expect(m.x(R.a4)).toBe(s64((u64(a) * u64(b)) >> 64n));
    }
  });
});
