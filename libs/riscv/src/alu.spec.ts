// Integer computation: every RV64I register-register, register-immediate and 32-bit op,
// on hand-picked edge cases with literal expectations, then cross-checked against a
// BigInt model over a grid of awkward values.

import { describe, expect, it } from 'vitest';
import { DRAM, e, exec, R, s64 } from './harness.test-util.js';

type RR = (rd: number, rs1: number, rs2: number) => number;

/** Runs `op t2, t0, t1` with t0 = a, t1 = b and returns t2 (signed). */
function rr(op: RR, a: bigint, b: bigint): bigint {
  return exec([op(R.t2, R.t0, R.t1)], { regs: { [R.t0]: a, [R.t1]: b } }).x(R.t2);
}
/** Runs `op t2, t0, imm` with t0 = a. */
function ri(op: RR, a: bigint, imm: number): bigint {
  return exec([op(R.t2, R.t0, imm)], { regs: { [R.t0]: a } }).x(R.t2);
}

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

describe('register-register ops', () => {
  it('ADD wraps at 64 bits and carries between the halves', () => {
    expect(rr(e.add, MAX, 1n)).toBe(MIN);
    expect(rr(e.add, -1n, 1n)).toBe(0n);
    expect(rr(e.add, 0xffff_ffffn, 1n)).toBe(0x1_0000_0000n);
    expect(rr(e.add, 0x1_0000_0000n, -1n)).toBe(0xffff_ffffn);
    expect(rr(e.add, MIN, MIN)).toBe(0n);
  });

  it('SUB wraps and borrows', () => {
    expect(rr(e.sub, 0n, 1n)).toBe(-1n);
    expect(rr(e.sub, MIN, 1n)).toBe(MAX);
    expect(rr(e.sub, 0x1_0000_0000n, 1n)).toBe(0xffff_ffffn);
    expect(rr(e.sub, 5n, 7n)).toBe(-2n);
  });

  it('SLL/SRL/SRA by 0, 31, 32, 63 and with the count masked to 6 bits', () => {
    const v = -0x0123_4567_89ab_cdefn; // 0xfedc_ba98_7654_3211
    expect(rr(e.sll, v, 0n)).toBe(v);
    expect(rr(e.sll, 1n, 31n)).toBe(0x8000_0000n);
    expect(rr(e.sll, 1n, 32n)).toBe(0x1_0000_0000n);
    expect(rr(e.sll, 1n, 63n)).toBe(MIN);
    expect(rr(e.sll, 3n, 64n)).toBe(3n); // 64 & 63 = 0
    expect(rr(e.sll, 3n, 65n)).toBe(6n);
    expect(rr(e.sll, 0x8000_0001n, 1n)).toBe(0x1_0000_0002n);
    expect(rr(e.srl, MIN, 63n)).toBe(1n);
    expect(rr(e.srl, -1n, 32n)).toBe(0xffff_ffffn);
    expect(rr(e.srl, -1n, 31n)).toBe(0x1_ffff_ffffn);
    expect(rr(e.srl, -1n, 0n)).toBe(-1n);
    expect(rr(e.srl, 0x1_0000_0000n, 1n)).toBe(0x8000_0000n);
    expect(rr(e.srl, 8n, -1n)).toBe(0n); // count 63
    expect(rr(e.sra, MIN, 63n)).toBe(-1n);
    expect(rr(e.sra, MIN, 32n)).toBe(-0x8000_0000n);
    expect(rr(e.sra, MIN, 31n)).toBe(-0x1_0000_0000n);
    expect(rr(e.sra, -8n, 1n)).toBe(-4n);
    expect(rr(e.sra, MAX, 62n)).toBe(1n);
    expect(rr(e.sra, -16n, 64n + 2n)).toBe(-4n);
  });

  it('SLT and SLTU treat the same bits as signed and unsigned', () => {
    expect(rr(e.slt, -1n, 0n)).toBe(1n);
    expect(rr(e.sltu, -1n, 0n)).toBe(0n);
    expect(rr(e.slt, 0n, -1n)).toBe(0n);
    expect(rr(e.sltu, 0n, -1n)).toBe(1n);
    expect(rr(e.slt, MIN, MAX)).toBe(1n);
    expect(rr(e.sltu, MIN, MAX)).toBe(0n);
    expect(rr(e.slt, -2n, -1n)).toBe(1n);
    expect(rr(e.slt, 5n, 5n)).toBe(0n);
    // Same high word, low words differing in bit 31: the low compare is unsigned.
    expect(rr(e.slt, 0x7fff_ffffn, 0x8000_0000n)).toBe(1n);
    expect(rr(e.sltu, 0x1_0000_0000n, 0xffff_ffffn)).toBe(0n);
  });

  it('XOR/OR/AND work on both halves', () => {
    expect(rr(e.xor, 0xff00_ff00_ff00_ff00n - 2n ** 64n, -1n)).toBe(0x00ff_00ff_00ff_00ffn);
    expect(rr(e.or, 0x1_0000_0000n, 1n)).toBe(0x1_0000_0001n);
    expect(rr(e.and, -1n, 0x8000_0000_0000_0001n - 2n ** 64n)).toBe(MIN + 1n);
  });
});

describe('register-immediate ops', () => {
  it('ADDI sign-extends the immediate and carries', () => {
    expect(ri(e.addi, 0xffff_ffffn, 1)).toBe(0x1_0000_0000n);
    expect(ri(e.addi, 0n, -1)).toBe(-1n);
    expect(ri(e.addi, 0x1_0000_0000n, -1)).toBe(0xffff_ffffn);
    expect(ri(e.addi, MAX, 1)).toBe(MIN);
    expect(ri(e.addi, 10n, -2048)).toBe(-2038n);
    expect(ri(e.addi, 10n, 2047)).toBe(2057n);
  });

  it('SLTI/SLTIU: immediate sign-extended, SLTIU compares unsigned (sltiu rd, rs, 1 = seqz)', () => {
    expect(ri(e.slti, -5n, -4)).toBe(1n);
    expect(ri(e.slti, -4n, -5)).toBe(0n);
    expect(ri(e.slti, MIN, 0)).toBe(1n);
    expect(ri(e.sltiu, 0n, 1)).toBe(1n);
    expect(ri(e.sltiu, 7n, 1)).toBe(0n);
    expect(ri(e.sltiu, -2n, -1)).toBe(1n); // -1 is 2^64-1 unsigned
    expect(ri(e.sltiu, -1n, -1)).toBe(0n);
    expect(ri(e.sltiu, 0x1_0000_0000n, 5)).toBe(0n);
  });

  it('XORI/ORI/ANDI sign-extend their immediate (xori rd, rs, -1 = not)', () => {
    expect(ri(e.xori, 0x1234n, -1)).toBe(-0x1235n);
    expect(ri(e.ori, 0x1_0000_0000n, -2048)).toBe(-2048n);
    expect(ri(e.andi, -1n, 0x7ff)).toBe(0x7ffn);
    expect(ri(e.andi, 0x1_ffff_ffffn, -1)).toBe(0x1_ffff_ffffn);
  });

  it('SLLI/SRLI/SRAI with 6-bit shift amounts', () => {
    expect(ri(e.slli, 1n, 0)).toBe(1n);
    expect(ri(e.slli, 1n, 31)).toBe(0x8000_0000n);
    expect(ri(e.slli, 1n, 32)).toBe(0x1_0000_0000n);
    expect(ri(e.slli, 1n, 63)).toBe(MIN);
    expect(ri(e.srli, -1n, 0)).toBe(-1n);
    expect(ri(e.srli, -1n, 63)).toBe(1n);
    expect(ri(e.srli, MIN, 32)).toBe(0x8000_0000n);
    expect(ri(e.srli, MIN, 31)).toBe(0x1_0000_0000n);
    expect(ri(e.srai, MIN, 0)).toBe(MIN);
    expect(ri(e.srai, MIN, 31)).toBe(-0x1_0000_0000n);
    expect(ri(e.srai, MIN, 32)).toBe(-0x8000_0000n);
    expect(ri(e.srai, MIN, 63)).toBe(-1n);
    expect(ri(e.srai, MAX, 63)).toBe(0n);
  });
});

describe('32-bit (W) ops compute on the low word and sign-extend', () => {
  it('ADDW/ADDIW/SUBW wrap at 32 bits and ignore the high word of their inputs', () => {
    expect(rr(e.addw, 0x7fff_ffffn, 1n)).toBe(-0x8000_0000n);
    expect(rr(e.addw, 0xffff_ffffn, 1n)).toBe(0n);
    expect(rr(e.addw, 0x1234_5678_0000_0001n, 0x1n)).toBe(2n);
    expect(ri(e.addiw, 0x7fff_ffffn, 1)).toBe(-0x8000_0000n);
    expect(ri(e.addiw, 0xffff_ffff_0000_0000n - 2n ** 64n, -1)).toBe(-1n);
    expect(ri(e.addiw, 0x1_8000_0000n, 0)).toBe(-0x8000_0000n); // sext.w
    expect(rr(e.subw, -0x8000_0000n, 1n)).toBe(0x7fff_ffffn);
    expect(rr(e.subw, 0n, 1n)).toBe(-1n);
  });

  it('SLLW/SRLW/SRAW use a 5-bit count and sign-extend bit 31', () => {
    expect(rr(e.sllw, 1n, 31n)).toBe(-0x8000_0000n);
    expect(rr(e.sllw, 1n, 32n)).toBe(1n); // 32 & 31 = 0
    expect(rr(e.sllw, 0x1_0000_0001n, 4n)).toBe(0x10n);
    expect(rr(e.srlw, -0x8000_0000n, 0n)).toBe(-0x8000_0000n); // bit 31 kept: sign-extends
    expect(rr(e.srlw, -0x8000_0000n, 1n)).toBe(0x4000_0000n);
    expect(rr(e.srlw, -1n, 31n)).toBe(1n);
    expect(rr(e.srlw, 0xf_0000_0010n, 36n)).toBe(1n); // count 4, high word ignored
    expect(rr(e.sraw, -0x8000_0000n, 31n)).toBe(-1n);
    expect(rr(e.sraw, 0x8000_0000n, 4n)).toBe(-0x0800_0000n); // input's bit 31 is the sign
    expect(rr(e.sraw, 0x7fff_ffffn, 63n)).toBe(0n);
  });

  it('SLLIW/SRLIW/SRAIW', () => {
    expect(ri(e.slliw, 0xffn, 24)).toBe(-0x0100_0000n);
    expect(ri(e.slliw, 3n, 31)).toBe(-0x8000_0000n);
    expect(ri(e.slliw, 5n, 0)).toBe(5n);
    expect(ri(e.srliw, 0xffff_ffffn, 0)).toBe(-1n);
    expect(ri(e.srliw, 0xffff_ffffn, 1)).toBe(0x7fff_ffffn);
    expect(ri(e.srliw, 0x1_8000_0000n, 31)).toBe(1n);
    expect(ri(e.sraiw, 0x8000_0000n, 31)).toBe(-1n);
    expect(ri(e.sraiw, 0x4000_0000n, 30)).toBe(1n);
    expect(ri(e.sraiw, 0x1_7fff_ffffn, 0)).toBe(0x7fff_ffffn);
  });
});

describe('upper immediates', () => {
  it('LUI sign-extends bit 31 into the high word', () => {
    expect(exec([e.lui(R.a0, 0x80000)]).x(R.a0)).toBe(-0x8000_0000n);
    expect(exec([e.lui(R.a0, 0x7ffff)]).x(R.a0)).toBe(0x7fff_f000n);
    expect(exec([e.lui(R.a0, 0xfffff)]).x(R.a0)).toBe(-0x1000n);
    expect(exec([e.lui(R.a0, 0)], { regs: { [R.a0]: -1n } }).x(R.a0)).toBe(0n);
  });

  it('AUIPC adds the sign-extended immediate to its own pc', () => {
    // At DRAM = 0x8000_0000: + 0xffff_ffff_8000_0000 wraps to 0.
    expect(exec([e.auipc(R.a0, 0x80000)]).x(R.a0)).toBe(0n);
    expect(exec([e.auipc(R.a0, 0)]).x(R.a0)).toBe(BigInt(DRAM));
    expect(exec([e.addi(0, 0, 0), e.auipc(R.a0, 0xfffff)]).x(R.a0)).toBe(BigInt(DRAM + 4 - 0x1000));
    expect(exec([e.auipc(R.a0, 0x7ffff)]).x(R.a0)).toBe(BigInt(DRAM + 0x7fff_f000));
  });
});

describe('x0', () => {
  it('ignores writes and reads as zero', () => {
    const m = exec([e.addi(0, 0, 5), e.lui(0, 0x12345), e.add(R.a0, 0, 0), e.addi(R.a1, 0, -1), e.or(0, R.a1, R.a1), e.add(R.a2, 0, R.a1)]);
    expect(m.x(0)).toBe(0n);
    expect(m.x(R.a0)).toBe(0n);
    expect(m.x(R.a2)).toBe(-1n);
  });

  it('setReg(0) is ignored too', () => {
    const m = exec([e.mv(R.a0, 0)], { regs: { 0: 99n } });
    expect(m.x(0)).toBe(0n);
    expect(m.x(R.a0)).toBe(0n);
  });
});

describe('against a BigInt model', () => {
  const values = [
    0n,
    1n,
    -1n,
    2n,
    31n,
    32n,
    63n,
    64n,
    0x7fff_ffffn,
    0x8000_0000n,
    -0x8000_0000n,
    0xffff_ffffn,
    0x1_0000_0000n,
    MAX,
    MIN,
    0x0123_4567_89ab_cdefn,
    -0x0123_4567_89ab_cdefn,
  ];
  const w = (v: bigint): bigint => BigInt.asIntN(32, v);
  const u = (v: bigint): bigint => BigInt.asUintN(64, v);
  const model: [string, RR, (a: bigint, b: bigint) => bigint][] = [
    ['add', e.add, (a, b) => s64(a + b)],
    ['sub', e.sub, (a, b) => s64(a - b)],
    ['sll', e.sll, (a, b) => s64(a << (b & 63n))],
    ['srl', e.srl, (a, b) => s64(u(a) >> (b & 63n))],
    ['sra', e.sra, (a, b) => a >> (b & 63n)],
    ['slt', e.slt, (a, b) => (a < b ? 1n : 0n)],
    ['sltu', e.sltu, (a, b) => (u(a) < u(b) ? 1n : 0n)],
    ['xor', e.xor, (a, b) => a ^ b],
    ['or', e.or, (a, b) => a | b],
    ['and', e.and, (a, b) => a & b],
    ['addw', e.addw, (a, b) => w(a + b)],
    ['subw', e.subw, (a, b) => w(a - b)],
    ['sllw', e.sllw, (a, b) => w(a << (b & 31n))],
    ['srlw', e.srlw, (a, b) => w(BigInt.asUintN(32, a) >> (b & 31n))],
    ['sraw', e.sraw, (a, b) => w(a) >> (b & 31n)],
  ];
  it.each(model)('%s', (_name, op, f) => {
    for (const a of values) {
      for (const b of values) expect(rr(op, a, b), `${a} ${b}`).toBe(f(a, b));
    }
  });
});
