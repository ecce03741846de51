// Control transfer: JAL, JALR, the six branches. With C, IALIGN = 16: no jump can make
// a misaligned target (offsets are even, JALR clears bit 0), only setPc (hart.spec.ts).

import { describe, expect, it } from 'vitest';
import { Cause } from './trap.js';
import { DRAM, e, exec, machine, R, trapInfo } from './harness.test-util.js';

describe('JAL', () => {
  it('links pc + 4 and jumps forward', () => {
    // 0: jal ra, +8   4: addi a0, 1 (skipped)   8: addi a1, 2
    const m = exec([e.jal(R.ra, 8), e.addi(R.a0, 0, 1), e.addi(R.a1, 0, 2)]);
    expect(m.x(R.ra)).toBe(BigInt(DRAM + 4));
    expect(m.x(R.a0)).toBe(0n);
    expect(m.x(R.a1)).toBe(2n);
  });

  it('jumps backwards (a counted loop)', () => {
    // a0 = 3; loop: a1 += 10; a0 -= 1; bnez a0, loop
    const m = exec([e.addi(R.a0, 0, 3), e.addi(R.a1, R.a1, 10), e.addi(R.a0, R.a0, -1), e.bne(R.a0, 0, -8)]);
    expect(m.x(R.a1)).toBe(30n);
  });

  it('j (rd = x0) writes nothing', () => {
    const m = exec([e.jal(0, 8), e.addi(R.a0, 0, 1), e.addi(R.a1, 0, 1)]);
    expect(m.x(0)).toBe(0n);
    expect(m.x(R.a0)).toBe(0n);
  });

  it('to a target that is 2 but not 4-aligned jumps there (IALIGN = 16 with C) and links pc + 4', () => {
    // DRAM + 10 is the upper half of the third word: c.li a0, 5, then the wfi.
    const m = exec([e.addi(0, 0, 0), e.jal(R.ra, 6), ((e.cLi(R.a0, 5) << 16) | e.cNop()) >>> 0]);
    expect(m.x(R.a0)).toBe(5n);
    expect(m.x(R.ra)).toBe(BigInt(DRAM + 8));
    expect(m.hart.stats.exceptions).toBe(0);
  });
});

describe('JALR', () => {
  it('jumps to rs1 + imm with bit 0 cleared and links pc + 4', () => {
    // t0 = DRAM + 13 (odd); jalr ra, 3(t0) -> DRAM + 16 & ~1 = DRAM + 16
    const m = exec([e.jalr(R.ra, R.t0, 3), e.addi(R.a0, 0, 1), e.addi(R.a0, 0, 2), e.addi(R.a0, 0, 3), e.addi(R.a1, 0, 9)], {
      regs: { [R.t0]: BigInt(DRAM + 13) },
    });
    expect(m.x(R.ra)).toBe(BigInt(DRAM + 4));
    expect(m.x(R.a0)).toBe(0n);
    expect(m.x(R.a1)).toBe(9n);
  });

  it('clears bit 0 of an odd target (jalr to rs1 + imm = odd)', () => {
    const m = exec([e.jalr(0, R.t0, 1), e.addi(R.a0, 0, 1), e.addi(R.a1, 0, 1)], { regs: { [R.t0]: BigInt(DRAM + 8) } });
    // DRAM + 9 & ~1 = DRAM + 8: skips the first addi
    expect(m.x(R.a0)).toBe(0n);
    expect(m.x(R.a1)).toBe(1n);
  });

  it('reads rs1 before writing rd when they are the same register', () => {
    const m = exec([e.jalr(R.t0, R.t0, 0), e.addi(R.a0, 0, 1), e.addi(R.a1, 0, 1)], { regs: { [R.t0]: BigInt(DRAM + 8) } });
    expect(m.x(R.t0)).toBe(BigInt(DRAM + 4));
    expect(m.x(R.a0)).toBe(0n);
    expect(m.x(R.a1)).toBe(1n);
  });

  it('call and return through ra', () => {
    // 0: jal ra, 12    4: addi a1, 5    8: j 12 (to 20)    12: addi a0, 7    16: jalr x0, 0(ra)    20: end
    const m = exec([e.jal(R.ra, 12), e.addi(R.a1, 0, 5), e.jal(0, 12), e.addi(R.a0, 0, 7), e.jalr(0, R.ra, 0)]);
    expect(m.x(R.a0)).toBe(7n);
    expect(m.x(R.a1)).toBe(5n);
  });

  it('to a target with bit 1 set jumps there (IALIGN = 16 with C)', () => {
    const m = machine([e.jalr(R.ra, R.t0, 1)], { regs: { [R.t0]: BigInt(DRAM + 0x101) } });
    m.ram.writeWords(DRAM + 0x100, [((e.cLi(R.a0, 3) << 16) | e.cNop()) >>> 0, e.wfi()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPc()).toBe(DRAM + 0x108);
    expect(m.x(R.a0)).toBe(3n);
    expect(m.x(R.ra)).toBe(BigInt(DRAM + 4));
  });

  it('to an address no pc can hold faults there with the exact 64-bit address', () => {
    const m = machine([e.jalr(R.ra, R.t0, 0)], { regs: { [R.t0]: 0x7fff_ffff_ffff_f000n } });
    expect(m.run().kind).toBe('wfi');
    const t = trapInfo(m);
    expect(t.mcause).toBe(BigInt(Cause.FetchAccess));
    expect(t.mepc).toBe(0x7fff_ffff_ffff_f000n);
    expect(t.mtval).toBe(0x7fff_ffff_ffff_f000n);
    expect(m.x(R.ra)).toBe(BigInt(DRAM + 4)); // the jump itself retired
  });
});

describe('branches', () => {
  type B = (rs1: number, rs2: number, off: number) => number;
  /** 0: branch a0, a1, +8   4: addi t0, 1 (fall-through marker)   8: end */
  function taken(br: B, a: bigint, b: bigint): boolean {
    const m = exec([br(R.a0, R.a1, 8), e.addi(R.t0, 0, 1)], { regs: { [R.a0]: a, [R.a1]: b } });
    return m.x(R.t0) === 0n;
  }

  it.each([
    ['beq', e.beq, 5n, 5n, true],
    ['beq', e.beq, 5n, 6n, false],
    ['beq high words differ', e.beq, 0x1_0000_0005n, 5n, false],
    ['bne', e.bne, 5n, 6n, true],
    ['bne', e.bne, -1n, -1n, false],
    ['bne high words differ', e.bne, 0x1_0000_0000n, 0n, true],
    ['blt', e.blt, -1n, 0n, true],
    ['blt', e.blt, 0n, -1n, false],
    ['blt equal', e.blt, 3n, 3n, false],
    ['blt low word unsigned', e.blt, 0x7fff_ffffn, 0x8000_0000n, true],
    ['blt min/max', e.blt, -(2n ** 63n), 2n ** 63n - 1n, true],
    ['bge', e.bge, 0n, -1n, true],
    ['bge equal', e.bge, -7n, -7n, true],
    ['bge', e.bge, -2n, -1n, false],
    ['bltu', e.bltu, 0n, -1n, true],
    ['bltu', e.bltu, -1n, 0n, false],
    ['bltu high word', e.bltu, 0xffff_ffffn, 0x1_0000_0000n, true],
    ['bgeu', e.bgeu, -1n, 0n, true],
    ['bgeu equal', e.bgeu, 9n, 9n, true],
    ['bgeu', e.bgeu, 1n, 2n, false],
  ] as [string, B, bigint, bigint, boolean][])('%s %s, %s -> taken %s', (_n, br, a, b, want) => {
    expect(taken(br, a, b)).toBe(want);
  });

  it('branch backwards', () => {
    // a0 = 0; loop: a0 += 1; blt a0, a1(=5), loop
    const m = exec([e.addi(R.a0, R.a0, 1), e.blt(R.a0, R.a1, -4)], { regs: { [R.a1]: 5n } });
    expect(m.x(R.a0)).toBe(5n);
  });

  it('a taken branch to a 2-aligned target goes there (IALIGN = 16 with C)', () => {
    // 0: c.j +8 | 2: c.li a0, 9 | 4: c.j +8 | 6: c.nop | 8: beq x0, x0, -6 | 12: wfi
    const m = exec([(e.cJ(8) | (e.cLi(R.a0, 9) << 16)) >>> 0, (e.cJ(8) | (e.cNop() << 16)) >>> 0, e.beq(0, 0, -6)]);
    expect(m.x(R.a0)).toBe(9n);
    expect(m.hart.getPc()).toBe(DRAM + 16);
    expect(m.hart.stats).toMatchObject({ instret: 5, exceptions: 0 });
  });

  it('a not-taken branch with a misaligned offset does not trap', () => {
    const m = exec([e.bne(0, 0, 6), e.addi(R.a0, 0, 1)]);
    expect(m.x(R.a0)).toBe(1n);
    expect(m.hart.stats.exceptions).toBe(0);
  });
});
