// F and D instructions through the hart: NaN-boxing, rounding modes on hard cases,
// fflags, fclass, fmin/fmax, conversions at their limits, fused multiply-add, FS and rm
// legality. (Arithmetic against an exact reference: arith.spec.ts.)

import { describe, expect, it } from 'vitest';
import { Csr } from '../../csr.js';
import { Cause } from '../../trap.js';
import { DRAM, DATA, e, machine, R, trapInfo, type Machine } from '../../harness.test-util.js';

const { fs, fdd, Rm } = e;
const MSTATUS_FS_INITIAL = 1n << 13n;

function dbits(x: number): bigint {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x, true);
  return v.getBigUint64(0, true);
}
function sbits(x: number): bigint {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, true);
  return BigInt(v.getUint32(0, true));
}
const CANON_D = 0x7ff8000000000000n;
const CANON_S = 0x7fc00000n;
const BOX = 0xffffffff00000000n;

/** f[r] = double bits, via t6. */
const setD = (r: number, bits: bigint): number[] => [...e.li(R.t6, BigInt.asIntN(64, bits)), fdd.fmvFromX(r, R.t6)];
/** f[r] = single bits, NaN-boxed by fmv.w.x. */
const setS = (r: number, bits: bigint): number[] => [...e.li(R.t6, BigInt.asIntN(64, bits)), fs.fmvFromX(r, R.t6)];

/** Runs `program` with FS = Initial (and frm if given); ends at a WFI. */
function run(program: number[], opts: { frm?: number; fsOff?: boolean } = {}): Machine {
  const m = machine([...program, e.wfi()]);
  if (!opts.fsOff) m.hart.writeCsr(Csr.mstatus, MSTATUS_FS_INITIAL);
  if (opts.frm !== undefined) m.hart.writeCsr(Csr.frm, BigInt(opts.frm));
  const exit = m.run();
  expect(exit.kind).toBe('wfi');
  return m;
}
const fflags = (m: Machine): bigint => m.csr(Csr.fflags);

describe('NaN-boxing', () => {
  it('fmv.w.x boxes, fmv.x.d shows the box, fmv.x.w sign-extends the low word', () => {
    const m = run([...setS(1, 0x80000001n), fdd.fmvX(R.a0, 1), fs.fmvX(R.a1, 1)]);
    expect(m.ux(R.a0)).toBe(BOX | 0x80000001n);
    expect(m.ux(R.a1)).toBe(0xffffffff80000001n);
  });

  it('an improperly boxed single reads as the canonical NaN in arithmetic, sign injection and fcvt.d.s', () => {
    const m = run([
      ...setD(1, 0x000000003f800000n), // 1.0f without the box
      ...setS(2, sbits(2)),
      fs.fadd(3, 1, 2, Rm.rne),
      fdd.fmvX(R.a0, 3),
      fs.fsgnjn(4, 1, 1), // fneg.s of the canonical NaN
      fdd.fmvX(R.a1, 4),
      e.fcvtDS(5, 1),
      fdd.fmvX(R.a2, 5),
      fs.fclass(R.a3, 1),
      fs.fmvX(R.a4, 1), // fmv.x.w does not check the box
    ]);
    expect(m.ux(R.a0)).toBe(BOX | CANON_S);
    expect(m.ux(R.a1)).toBe(BOX | (CANON_S | 0x80000000n)); // sign of canonical NaN flipped
    expect(m.ux(R.a2)).toBe(CANON_D);
    expect(m.x(R.a3)).toBe(1n << 9n); // quiet NaN
    expect(m.x(R.a4)).toBe(0x3f800000n);
    expect(fflags(m)).toBe(0n); // canonical NaN is quiet: no NV
  });

  it('flw boxes, fsw stores the low word as it is, fld/fsd move 64 raw bits (sNaN payload kept)', () => {
    const m = run([
      ...e.li(R.s0, DATA),
      ...e.li(R.t0, 0x7f800001), // a signaling NaN single
      e.sw(R.t0, R.s0, 0),
      e.flw(1, R.s0, 0),
      fdd.fmvX(R.a0, 1),
      ...setD(2, 0x7ff0000000000001n), // signaling NaN double
      e.fsd(2, R.s0, 8),
      e.fld(3, R.s0, 8),
      fdd.fmvX(R.a1, 3),
      ...setD(4, 0x123456789abcdef0n), // not a boxed single
      e.fsw(4, R.s0, 16),
      e.lwu(R.a2, R.s0, 16),
    ]);
    expect(m.ux(R.a0)).toBe(BOX | 0x7f800001n);
    expect(m.ux(R.a1)).toBe(0x7ff0000000000001n);
    expect(m.ux(R.a2)).toBe(0x9abcdef0n);
  });

  it('fsgnj/fsgnjn/fsgnjx keep NaN payloads and set only the sign', () => {
    const m = run([
      ...setD(1, 0x7ff0000000000001n),
      ...setD(2, dbits(-1)),
      fdd.fsgnj(3, 1, 2),
      fdd.fsgnjn(4, 1, 2),
      fdd.fsgnjx(5, 2, 2),
      fdd.fmvX(R.a0, 3),
      fdd.fmvX(R.a1, 4),
      fdd.fmvX(R.a2, 5),
    ]);
    expect(m.ux(R.a0)).toBe(0xfff0000000000001n);
    expect(m.ux(R.a1)).toBe(0x7ff0000000000001n);
    expect(m.ux(R.a2)).toBe(dbits(1));
    expect(fflags(m)).toBe(0n);
  });
});

describe('rounding modes on hard cases', () => {
  const ONE = dbits(1);
  const ULP = 2 ** -52;
  // a + b for each mode: [a, b, RNE, RTZ, RDN, RUP, RMM]
  const cases: [string, number, number, number[]][] = [
    ['1 + 2^-53 (tie, even below)', 1, 2 ** -53, [1, 1, 1, 1 + ULP, 1 + ULP]],
    ['1 + 3*2^-53 (tie, even above)', 1 + ULP, 2 ** -53, [1 + 2 * ULP, 1 + ULP, 1 + ULP, 1 + 2 * ULP, 1 + 2 * ULP]],
    ['1 + 2^-54 (below half)', 1, 2 ** -54, [1, 1, 1, 1 + ULP, 1]],
    ['1 + 3*2^-54 (above half)', 1, 3 * 2 ** -54, [1 + ULP, 1, 1, 1 + ULP, 1 + ULP]],
    ['-1 - 2^-53 (negative tie)', -1, -(2 ** -53), [-1, -1, -1 - ULP, -1, -1 - ULP]],
    ['1 - 2^-54 (just below a power of two)', 1, -(2 ** -54), [1, 1 - ULP / 2, 1 - ULP / 2, 1, 1]],
    ['1 - 2^-55', 1, -(2 ** -55), [1, 1 - ULP / 2, 1 - ULP / 2, 1, 1]],
  ];
  it.each(cases)('fadd.d %s', (_name, a, b, want) => {
    for (let rm = 0; rm < 5; rm++) {
      // Static rm, then the same through frm and rm = dyn.
      const m = run([...setD(1, dbits(a)), ...setD(2, dbits(b)), fdd.fadd(3, 1, 2, rm), fdd.fadd(4, 1, 2, Rm.dyn), fdd.fmvX(R.a0, 3), fdd.fmvX(R.a1, 4)], {
        frm: rm,
      });
      expect({ rm, v: m.ux(R.a0) }).toEqual({ rm, v: dbits(want[rm]!) });
      expect({ rm, v: m.ux(R.a1) }).toEqual({ rm, v: dbits(want[rm]!) });
      expect(fflags(m)).toBe(1n); // NX
    }
    expect(ONE).toBe(0x3ff0000000000000n);
  });

  it('fadd.s 1 + 2^-24 (a tie in single, exact in double) in every mode', () => {
    const want = [1, 1, 1, 1 + 2 ** -23, 1 + 2 ** -23];
    for (let rm = 0; rm < 5; rm++) {
      const m = run([...setS(1, sbits(1)), ...setS(2, sbits(2 ** -24)), fs.fadd(3, 1, 2, rm), fs.fmvX(R.a0, 3)]);
      expect({ rm, v: m.ux(R.a0) & 0xffffffffn }).toEqual({ rm, v: sbits(want[rm]!) });
    }
  });

  it('fcvt.s.w of 2^24 + 1 in every mode', () => {
    const want = [2 ** 24, 2 ** 24, 2 ** 24, 2 ** 24 + 2, 2 ** 24 + 2];
    for (let rm = 0; rm < 5; rm++) {
      const m = run([...e.li(R.t0, 2 ** 24 + 1), fs.fromW(1, R.t0, rm), fs.fmvX(R.a0, 1)]);
      expect({ rm, v: m.ux(R.a0) & 0xffffffffn }).toEqual({ rm, v: sbits(want[rm]!) });
      expect(fflags(m)).toBe(1n);
    }
  });

  it('fcvt.d.l of 2^63 - 1 rounds (to 2^63 except toward zero/down)', () => {
    const want = [2 ** 63, 2 ** 63 - 1024, 2 ** 63 - 1024, 2 ** 63, 2 ** 63];
    for (let rm = 0; rm < 5; rm++) {
      const m = run([...e.li(R.t0, 2n ** 63n - 1n), fdd.fromL(1, R.t0, rm), fdd.fmvX(R.a0, 1)]);
      expect({ rm, v: m.ux(R.a0) }).toEqual({ rm, v: dbits(want[rm]!) });
    }
  });

  it('a reserved static rm is illegal at decode; rm = dyn with a reserved frm is illegal when run', () => {
    const bad = fdd.fadd(3, 1, 2, 5);
    let m = machine([bad]);
    m.hart.writeCsr(Csr.mstatus, MSTATUS_FS_INITIAL);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.IllegalInstruction), mtval: BigInt(bad) });
    const dyn = fdd.fadd(3, 1, 2, Rm.dyn);
    m = machine([dyn]);
    m.hart.writeCsr(Csr.mstatus, MSTATUS_FS_INITIAL);
    m.hart.writeCsr(Csr.frm, 6n);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.IllegalInstruction), mepc: BigInt(DRAM), mtval: BigInt(dyn) });
    // fsgnj has no rm: a reserved frm does not matter.
    expect(run([fdd.fsgnj(1, 2, 3)], { frm: 7 }).hart.stats.exceptions).toBe(0);
  });
});

describe('fflags', () => {
  it('accrue per exception: DZ, NV, OF+NX, UF+NX; fcsr = frm << 5 | fflags', () => {
    const m = run(
      [
        ...setD(1, dbits(1)),
        ...setD(2, 0n),
        fdd.fdiv(3, 1, 2), // 1/0: DZ
        e.csrr(R.a0, Csr.fflags),
        fdd.fdiv(3, 2, 2), // 0/0: NV
        e.csrr(R.a1, Csr.fflags),
        e.csrw(Csr.fflags, 0),
        ...setD(4, dbits(Number.MAX_VALUE)),
        fdd.fadd(5, 4, 4), // OF + NX
        e.csrr(R.a2, Csr.fflags),
        e.csrw(Csr.fflags, 0),
        ...setD(6, dbits(2 ** -1000)),
        fdd.fmul(7, 6, 6), // UF + NX (to 0)
        e.csrr(R.a3, Csr.fflags),
        fdd.fsqrt(8, 4),
        e.csrr(R.a4, Csr.fflags),
        ...setD(9, dbits(-1)),
        fdd.fsqrt(10, 9), // NV
        fdd.fmvX(R.a5, 10),
        fdd.fmvX(R.a6, 3),
      ],
      { frm: 3 },
    );
    expect([R.a0, R.a1, R.a2, R.a3, R.a4].map((r) => m.x(r))).toEqual([8n, 24n, 5n, 3n, 3n]);
    expect(m.csr(Csr.fcsr)).toBe((3n << 5n) | 16n | 3n);
    expect(m.ux(R.a5)).toBe(CANON_D);
    expect(m.ux(R.a6)).toBe(CANON_D);
  });

  it('feq is quiet (NV only for sNaN), flt/fle signal on any NaN', () => {
    const m = run([
      ...setD(1, CANON_D),
      ...setD(2, dbits(1)),
      ...setD(3, 0x7ff0000000000001n),
      fdd.feq(R.a0, 1, 2),
      e.csrr(R.a1, Csr.fflags),
      fdd.feq(R.a2, 3, 2),
      e.csrr(R.a3, Csr.fflags),
      e.csrw(Csr.fflags, 0),
      fdd.flt(R.a4, 1, 2),
      e.csrr(R.a5, Csr.fflags),
      fdd.fle(R.a6, 2, 2),
      fdd.flt(R.a7, 2, 2),
      fdd.feq(R.s2, 2, 2),
    ]);
    expect([R.a0, R.a1, R.a2, R.a3, R.a4, R.a5, R.a6, R.a7, R.s2].map((r) => m.x(r))).toEqual([0n, 0n, 0n, 16n, 0n, 16n, 1n, 0n, 1n]);
  });
});

describe('fclass', () => {
  const D_CASES: [string, bigint, number][] = [
    ['-inf', dbits(-Infinity), 0],
    ['-normal', dbits(-1.5), 1],
    ['-subnormal', 0x800000000000000fn, 2],
    ['-0', dbits(-0), 3],
    ['+0', 0n, 4],
    ['+subnormal', 1n, 5],
    ['+normal', dbits(1e300), 6],
    ['+inf', dbits(Infinity), 7],
    ['sNaN', 0x7ff0000000000001n, 8],
    ['qNaN', CANON_D, 9],
  ];
  it.each(D_CASES)('fclass.d %s', (_n, bits, bitNo) => {
    expect(run([...setD(1, bits), fdd.fclass(R.a0, 1)]).x(R.a0)).toBe(1n << BigInt(bitNo));
  });
  const S_CASES: [string, bigint, number][] = [
    ['-inf', 0xff800000n, 0],
    ['-normal', sbits(-3), 1],
    ['-subnormal', 0x80000001n, 2],
    ['-0', 0x80000000n, 3],
    ['+0', 0n, 4],
    ['+subnormal', 0x007fffffn, 5],
    ['+normal', sbits(1), 6],
    ['+inf', 0x7f800000n, 7],
    ['sNaN', 0x7fa00000n, 8],
    ['qNaN', 0x7fc00001n, 9],
  ];
  it.each(S_CASES)('fclass.s %s', (_n, bits, bitNo) => {
    expect(run([...setS(1, bits), fs.fclass(R.a0, 1)]).x(R.a0)).toBe(1n << BigInt(bitNo));
  });
});

describe('fmin / fmax (F/D 2.2: minimumNumber, maximumNumber)', () => {
  const SNAN = 0x7ff0000000000001n;
  const cases: [string, bigint, bigint, bigint, bigint, bigint][] = [
    // name, a, b, min, max, fflags
    ['one quiet NaN: the other operand', CANON_D, dbits(2), dbits(2), dbits(2), 0n],
    ['NaN second', dbits(-3), 0x7ff8000000000123n, dbits(-3), dbits(-3), 0n],
    ['one signaling NaN: the other operand, and NV', SNAN, dbits(2), dbits(2), dbits(2), 16n],
    ['both NaN: canonical', 0x7ff8000000000123n, SNAN, CANON_D, CANON_D, 16n],
    ['-0 < +0', dbits(-0), 0n, dbits(-0), 0n, 0n],
    ['+0 > -0 (either order)', 0n, dbits(-0), dbits(-0), 0n, 0n],
    ['ordinary', dbits(1), dbits(-Infinity), dbits(-Infinity), dbits(1), 0n],
  ];
  it.each(cases)('%s', (_n, a, b, min, max, flags) => {
    const m = run([...setD(1, a), ...setD(2, b), fdd.fmin(3, 1, 2), fdd.fmax(4, 1, 2), fdd.fmvX(R.a0, 3), fdd.fmvX(R.a1, 4)]);
    expect([m.ux(R.a0), m.ux(R.a1), fflags(m)]).toEqual([min, max, flags]);
  });

  it('single: NaN rules and signed zeros', () => {
    const m = run([
      ...setS(1, CANON_S),
      ...setS(2, sbits(-0)),
      ...setS(3, 0n),
      fs.fmin(4, 1, 2),
      fs.fmax(5, 2, 3),
      fs.fmin(6, 3, 2),
      fs.fmvX(R.a0, 4),
      fs.fmvX(R.a1, 5),
      fs.fmvX(R.a2, 6),
    ]);
    expect([m.ux(R.a0) & 0xffffffffn, m.ux(R.a1), m.ux(R.a2) & 0xffffffffn]).toEqual([0x80000000n, 0n, 0x80000000n]);
  });
});

describe('conversions at their limits', () => {
  it.each([
    ['fcvt.w.d NaN', fdd.fcvtW, CANON_D, 0x7fffffffn, 16n],
    ['fcvt.wu.d NaN (all ones, sign-extended)', fdd.fcvtWU, CANON_D, -1n, 16n],
    ['fcvt.l.d NaN', fdd.fcvtL, CANON_D, 2n ** 63n - 1n, 16n],
    ['fcvt.lu.d NaN', fdd.fcvtLU, CANON_D, -1n, 16n],
    ['fcvt.w.d -inf', fdd.fcvtW, dbits(-Infinity), -(2n ** 31n), 16n],
    ['fcvt.w.d 2^31', fdd.fcvtW, dbits(2 ** 31), 2n ** 31n - 1n, 16n],
    ['fcvt.w.d -2^31', fdd.fcvtW, dbits(-(2 ** 31)), -(2n ** 31n), 0n],
    ['fcvt.wu.d -1 (negative to unsigned)', fdd.fcvtWU, dbits(-1), 0n, 16n],
    ['fcvt.wu.d -0.25 (rounds to 0: only inexact)', fdd.fcvtWU, dbits(-0.25), 0n, 1n],
    ['fcvt.lu.d -2', fdd.fcvtLU, dbits(-2), 0n, 16n],
    ['fcvt.l.d 2^63', fdd.fcvtL, dbits(2 ** 63), 2n ** 63n - 1n, 16n],
    ['fcvt.l.d -2^63', fdd.fcvtL, dbits(-(2 ** 63)), -(2n ** 63n), 0n],
    ['fcvt.lu.d 2^64', fdd.fcvtLU, dbits(2 ** 64), -1n, 16n],
    ['fcvt.lu.d 1.5 (RNE: 2, inexact)', fdd.fcvtLU, dbits(1.5), 2n, 1n],
  ] as const)('%s', (_n, enc, bits, want, flags) => {
    const m = run([...setD(1, bits), enc(R.a0, 1, Rm.rne)]);
    expect([m.x(R.a0), fflags(m)]).toEqual([want, flags]);
  });

  it('single sources: fcvt.w.s of 2^31 and of sNaN, fcvt.lu.s of 2^64', () => {
    const m = run([
      ...setS(1, sbits(2 ** 31)),
      fs.fcvtW(R.a0, 1, Rm.rtz),
      ...setS(2, 0x7f800001n),
      fs.fcvtL(R.a1, 2, Rm.rtz),
      ...setS(3, sbits(2 ** 64)),
      fs.fcvtLU(R.a2, 3, Rm.rtz),
      ...setS(4, sbits(-(2 ** 63))),
      fs.fcvtL(R.a3, 4, Rm.rtz),
    ]);
    expect([m.x(R.a0), m.x(R.a1), m.x(R.a2), m.x(R.a3)]).toEqual([2n ** 31n - 1n, 2n ** 63n - 1n, -1n, -(2n ** 63n)]);
    expect(fflags(m)).toBe(16n);
  });

  it('fcvt.s.d overflows per mode, underflows, and quiets NaNs; fcvt.d.s is exact', () => {
    const m = run([
      ...setD(1, dbits(1e300)),
      e.fcvtSD(2, 1, Rm.rne),
      e.fcvtSD(3, 1, Rm.rtz),
      fs.fmvX(R.a0, 2),
      fs.fmvX(R.a1, 3),
      ...setD(4, 0x7ff0000000000001n),
      e.fcvtSD(5, 4),
      fdd.fmvX(R.a2, 5),
      ...setS(6, sbits(0.1)),
      e.fcvtDS(7, 6),
      fdd.fmvX(R.a3, 7),
      ...setD(8, dbits(1e-300)),
      e.fcvtSD(9, 8, Rm.rup),
      fs.fmvX(R.a4, 9),
    ]);
    expect(m.ux(R.a0) & 0xffffffffn).toBe(0x7f800000n);
    expect(m.ux(R.a1) & 0xffffffffn).toBe(0x7f7fffffn);
    expect(m.ux(R.a2)).toBe(BOX | CANON_S);
    expect(m.ux(R.a3)).toBe(dbits(Math.fround(0.1)));
    expect(m.ux(R.a4) & 0xffffffffn).toBe(1n); // smallest subnormal, rounded up
    expect(fflags(m)).toBe(16n | 4n | 2n | 1n);
  });

  it('fcvt.d.wu, fcvt.s.lu of all ones, fcvt.d.w of a negative', () => {
    const m = run([
      ...e.li(R.t0, -1),
      fdd.fromWU(1, R.t0),
      fdd.fmvX(R.a0, 1),
      fs.fromLU(2, R.t0, Rm.rtz),
      fs.fmvX(R.a1, 2),
      fdd.fromW(3, R.t0),
      fdd.fmvX(R.a2, 3),
      fdd.fromL(4, 0),
      fdd.fmvX(R.a3, 4),
    ]);
    expect(m.ux(R.a0)).toBe(dbits(4294967295));
    expect(m.ux(R.a1) & 0xffffffffn).toBe(sbits(Math.fround(2 ** 64 - 2 ** 40)));
    expect(m.ux(R.a2)).toBe(dbits(-1));
    expect(m.ux(R.a3)).toBe(0n);
  });
});

describe('fused multiply-add', () => {
  it('is computed exactly where the unfused result differs', () => {
    // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly; fmul then fadd gives 0.
    const m = run([
      ...setD(1, dbits(1 + 2 ** -52)),
      ...setD(2, dbits(1 - 2 ** -52)),
      ...setD(3, dbits(1)),
      fdd.fmsub(4, 1, 2, 3),
      fdd.fmul(5, 1, 2),
      fdd.fsub(6, 5, 3),
      fdd.fmvX(R.a0, 4),
      fdd.fmvX(R.a1, 6),
      fdd.fnmadd(7, 1, 2, 3), // -(a*b) - c
      fdd.fnmsub(8, 1, 2, 3), // -(a*b) + c
      fdd.fmadd(9, 1, 2, 3),
      fdd.fmvX(R.a2, 7),
      fdd.fmvX(R.a3, 8),
      fdd.fmvX(R.a4, 9),
    ]);
    expect(m.ux(R.a0)).toBe(dbits(-(2 ** -104)));
    expect(m.ux(R.a1)).toBe(0n);
    expect(m.ux(R.a2)).toBe(dbits(-2)); // -(1 - 2^-104) - 1 rounds to -2
    expect(m.ux(R.a3)).toBe(dbits(2 ** -104));
    expect(m.ux(R.a4)).toBe(dbits(2));
  });

  it('single: the product is not rounded before the add', () => {
    // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46; minus (1 + 2^-22) leaves 2^-46.
    const m = run([...setS(1, sbits(1 + 2 ** -23)), ...setS(2, sbits(1 + 2 ** -22)), fs.fmsub(3, 1, 1, 2), fs.fmvX(R.a0, 3)]);
    expect(m.ux(R.a0) & 0xffffffffn).toBe(sbits(2 ** -46));
  });

  it('inf * 0 is invalid even with a quiet NaN addend; exact zero sums take +0 (-0 rounding down)', () => {
    const m = run([
      ...setD(1, dbits(Infinity)),
      ...setD(2, 0n),
      ...setD(3, CANON_D),
      fdd.fmadd(4, 1, 2, 3),
      fdd.fmvX(R.a0, 4),
      e.csrr(R.a1, Csr.fflags),
      ...setD(5, dbits(2)),
      ...setD(6, dbits(-4)),
      fdd.fmadd(7, 5, 5, 6, Rm.rne), // 2*2 - 4 = +0
      fdd.fmadd(8, 5, 5, 6, Rm.rdn), // -0
      fdd.fmvX(R.a2, 7),
      fdd.fmvX(R.a3, 8),
    ]);
    expect(m.ux(R.a0)).toBe(CANON_D);
    expect(m.x(R.a1)).toBe(16n);
    expect(m.ux(R.a2)).toBe(0n);
    expect(m.ux(R.a3)).toBe(dbits(-0));
  });
});

describe('mstatus.FS', () => {
  it.each([
    ['fadd.d', fdd.fadd(1, 2, 3)],
    ['fmv.x.d', fdd.fmvX(R.a0, 1)],
    ['fld', e.fld(1, R.sp, 8)],
    ['fsw', e.fsw(1, R.sp, -4)],
    ['csrr fflags', e.csrr(R.a0, Csr.fflags)],
    ['csrw fcsr', e.csrw(Csr.fcsr, R.a0)],
  ])('Off: %s is illegal, tval = the instruction', (_n, inst) => {
    const m = machine([inst]);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.IllegalInstruction), mepc: BigInt(DRAM), mtval: BigInt(inst) });
  });

  it('a write to FP state sets FS = Dirty and SD; a compare that raises nothing does not', () => {
    let m = run([fdd.feq(R.a0, 1, 1)]);
    expect((m.csr(Csr.mstatus) >> 13n) & 3n).toBe(1n);
    m = run([fdd.fmvFromX(1, 0)]);
    expect((m.csr(Csr.mstatus) >> 13n) & 3n).toBe(3n);
    expect(m.csr(Csr.mstatus) >> 63n).toBe(1n);
    m = run([e.csrw(Csr.frm, 0)]);
    expect((m.csr(Csr.mstatus) >> 13n) & 3n).toBe(3n);
  });
});

describe('arithmetic through the hart', () => {
  it('single and double add/sub/mul/div/sqrt give the IEEE results', () => {
    const m = run([
      ...setD(1, dbits(10)),
      ...setD(2, dbits(4)),
      fdd.fsub(3, 1, 2),
      fdd.fdiv(4, 1, 2),
      fdd.fsqrt(5, 2),
      fdd.fmul(6, 1, 2),
      fdd.fmvX(R.a0, 3),
      fdd.fmvX(R.a1, 4),
      fdd.fmvX(R.a2, 5),
      fdd.fmvX(R.a3, 6),
      ...setS(7, sbits(1)),
      ...setS(8, sbits(3)),
      fs.fdiv(9, 7, 8, Rm.rne),
      fs.fsqrt(10, 8, Rm.rup),
      fs.fmvX(R.a4, 9),
      fs.fmvX(R.a5, 10),
    ]);
    expect([m.ux(R.a0), m.ux(R.a1), m.ux(R.a2), m.ux(R.a3)]).toEqual([dbits(6), dbits(2.5), dbits(2), dbits(40)]);
    expect(m.ux(R.a4) & 0xffffffffn).toBe(sbits(Math.fround(1 / 3)));
    expect(m.ux(R.a5) & 0xffffffffn).toBe(0x3fddb3d8n); // sqrt(3) = 1.7320508..., rounded up
  });
});
