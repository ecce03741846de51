import { describe, expect, it } from 'vitest';
import * as e from './encode.js';
import { exec, R } from '../harness.test-util.js';

describe('encode', () => {
  it('matches reference encodings from the spec and binutils', () => {
    expect(e.addi(1, 2, -1)).toBe(0xfff10093);
    expect(e.lui(10, 0x12345)).toBe(0x12345537);
    expect(e.jal(1, 2048)).toBe(0x001000ef);
    expect(e.jal(0, -4)).toBe(0xffdff06f);
    expect(e.beq(10, 11, -8)).toBe(0xfeb50ce3);
    expect(e.sd(1, 2, 8)).toBe(0x00113423);
    expect(e.ld(10, 2, 16)).toBe(0x01013503);
    expect(e.srai(5, 6, 63)).toBe(0x43f35293);
    expect(e.sub(5, 6, 7)).toBe(0x407302b3);
    expect(e.sraw(5, 6, 7)).toBe(0x407352bb);
    expect(e.csrr(10, 0xf14)).toBe(0xf1402573);
    expect(e.csrw(0x305, 5)).toBe(0x30529073);
    expect(e.ret()).toBe(0x00008067);
    expect(e.fence()).toBe(0x0ff0000f);
  });

  it('matches binutils for the M, A, F/D and C encoders', () => {
    const { fs, fdd, Rm } = e;
    const R = e.Reg;
    expect(e.mul(R.a0, R.a1, R.a2)).toBe(0x02c58533);
    expect(e.divuw(R.t0, R.t1, R.t2)).toBe(0x027352bb);
    expect(e.lrD(R.a0, R.a1)).toBe(0x1005b52f);
    expect(e.scW(R.a2, R.a3, R.a4)).toBe(0x18d7262f);
    expect(e.amoD('maxu', R.a5, R.a6, R.a7, 3)).toBe(0xe708b7af);
    expect(e.flw(10, R.sp, -4)).toBe(0xffc12507);
    expect(e.fsd(9, R.a0, 2040)).toBe(0x7e953c27);
    expect(fdd.fmadd(1, 2, 3, 4, Rm.rmm)).toBe(0x223140c3);
    expect(fs.fnmsub(5, 6, 7, 8)).toBe(0x407372cb);
    expect(fdd.fcvtWU(R.a0, 1, Rm.rtz)).toBe(0xc2109553);
    expect(fs.fclass(R.a1, 2)).toBe(0xe00115d3);
    expect(fdd.fsgnjx(3, 4, 5)).toBe(0x225221d3);
    expect(e.fcvtSD(6, 7, Rm.rup)).toBe(0x4013b353);
    expect(e.cAddi4spn(R.s0, 1020)).toBe(0x1fe0);
    expect(e.cLw(R.a0, R.a1, 124)).toBe(0x5de8);
    expect(e.cSd(R.s1, R.a2, 248)).toBe(0xfe64);
    expect(e.cAddi16sp(-512)).toBe(0x7101);
    expect(e.cLui(R.t4, 0xfffe0)).toBe(0x7e81);
    expect(e.cSrai(R.s0, 33)).toBe(0x9405);
    expect(e.cLdsp(R.t0, 504)).toBe(0x72fe);
    expect(e.cFsdsp(5, 256)).toBe(0xa216);
    expect(e.cJalr(R.t0)).toBe(0x9282);
  });

  it('refuses immediates that do not fit', () => {
    expect(() => e.addi(1, 1, 2048)).toThrow(RangeError);
    expect(() => e.beq(1, 1, 4096)).toThrow(RangeError);
    expect(() => e.beq(1, 1, 3)).toThrow(RangeError);
    expect(() => e.jal(1, 1 << 20)).toThrow(RangeError);
    expect(() => e.slli(1, 1, 64)).toThrow(RangeError);
    expect(() => e.slliw(1, 1, 32)).toThrow(RangeError);
    expect(() => e.add(32, 1, 1)).toThrow(RangeError);
  });

  it.each([
    0n,
    1n,
    -1n,
    2047n,
    -2048n,
    2048n,
    0x7fff_ffffn,
    -0x8000_0000n,
    0x8000_0000n,
    0xffff_ffffn,
    0x1_0000_0000n,
    0x1234_5678_9abc_def0n,
    -0x1_2345_6789n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    0x8000_0800n,
    0x7fff_f800n,
  ])('li %s executes to that value', (v) => {
    const m = exec(e.li(R.a0, v));
    expect(m.x(R.a0)).toBe(v);
  });
});
