// The Hart API: run(budget) accounting, stop(), register and pc access, reset, and two
// harts sharing one RAM (and its decoded code).

import { describe, expect, it } from 'vitest';
import { EXIT_BUDGET, EXIT_STOPPED, EXIT_WFI, Hart, REGISTER_SNAPSHOT_WORDS } from './hart.js';
import { GuestRam } from './memory.js';
import { Cause } from './trap.js';
import { DRAM, e, HANDLER, machine, R, TestBus, trapInfo } from './harness.test-util.js';

describe('run(budget)', () => {
  it('executes exactly `budget` instructions, across calls', () => {
    const m = machine([e.addi(R.a0, R.a0, 1), e.jal(0, -4)]);
    expect(m.run(1001)).toBe(EXIT_BUDGET);
    expect(m.hart.stats.instret).toBe(1001);
    expect(m.x(R.a0)).toBe(501n);
    expect(m.run(10)).toBe(EXIT_BUDGET);
    expect(m.hart.stats).toMatchObject({ instret: 1011, cycles: 1011, traps: 0 });
  });

  it('a budget of 0 runs nothing', () => {
    const m = machine([e.addi(R.a0, 0, 1)]);
    expect(m.run(0)).toBe(EXIT_BUDGET);
    expect(m.hart.getPc()).toBe(DRAM);
    expect(m.hart.stats.instret).toBe(0);
  });

  it('counts an instruction that traps against the budget, not as retired', () => {
    // ecall forever: each one traps, the handler returns past it.
    const m = machine([e.ecall(), e.jal(0, -4)]);
    m.ram.writeWords(HANDLER, [e.csrr(R.t0, 0x341), e.addi(R.t0, R.t0, 4), e.csrw(0x341, R.t0), e.mret()]);
    expect(m.run(60)).toBe(EXIT_BUDGET);
    // Each round: ecall (trap), 4 handler instructions, jal = 6 steps, 5 retired.
    expect(m.hart.stats).toMatchObject({ cycles: 60, instret: 50, exceptions: 10, traps: 10 });
  });

  it('registersUnchanged: whether x1..x31, pc and privilege are as the last snapshot held', () => {
    // A loop that only looks (a0 loaded again with the same value), then one that counts.
    const m = machine([e.addi(R.a0, 0, 5), e.jal(0, -4)]);
    const snap = new Int32Array(REGISTER_SNAPSHOT_WORDS);
    m.run(2);
    expect(m.hart.registersUnchanged(snap)).toBe(false); // the first snapshot
    m.run(2);
    expect(m.hart.registersUnchanged(snap)).toBe(true);
    const n = machine([e.addi(R.a0, R.a0, 1), e.jal(0, -4)]);
    n.run(2);
    n.hart.registersUnchanged(snap);
    n.run(2);
    expect(n.hart.registersUnchanged(snap)).toBe(false);
    n.run(1);
    expect(n.hart.registersUnchanged(snap)).toBe(false); // pc moved
  });

  it('returns the shared exit constants (no allocation per exit)', () => {
    const m = machine([e.wfi(), e.wfi()]);
    expect(m.run()).toBe(EXIT_WFI);
  });
});

describe('stop()', () => {
  it('from inside a bus callback ends the run after the current instruction', () => {
    const dev = 0x10_0000; // where the virt machine's poweroff register lives
    const m = machine([e.addi(R.a0, 0, 1), e.sw(R.t1, R.t0, 0), e.addi(R.a0, 0, 2), e.wfi()], {
      regs: { [R.t0]: BigInt(dev), [R.t1]: 0x5555n },
    });
    const reg = m.bus.map(dev, 4);
    m.bus.onStore = () => m.hart.stop();
    expect(m.run()).toBe(EXIT_STOPPED);
    expect(m.hart.getPc()).toBe(DRAM + 8);
    expect(reg[0]).toBe(0x55); // the store completed
    expect(m.x(R.a0)).toBe(1n);
    expect(m.hart.stats.instret).toBe(2);
    // The next run resumes where it stopped.
    m.bus.onStore = null;
    expect(m.run()).toBe(EXIT_WFI);
    expect(m.x(R.a0)).toBe(2n);
  });

  it('from a load callback too', () => {
    const m = machine([e.lw(R.a0, R.t0, 0), e.addi(R.a1, 0, 1), e.wfi()], { regs: { [R.t0]: 0x1000_0000n } });
    m.bus.map(0x1000_0000, 4).set([7, 0, 0, 0]);
    m.bus.onLoad = () => m.hart.stop();
    expect(m.run()).toBe(EXIT_STOPPED);
    expect(m.x(R.a0)).toBe(7n);
    expect(m.x(R.a1)).toBe(0n);
  });

  it.each([
    ['lb', e.lb(R.a0, R.t0, 0)],
    ['lh', e.lh(R.a0, R.t0, 0)],
    ['lw', e.lw(R.a0, R.t0, 0)],
    ['ld', e.ld(R.a0, R.t0, 0)],
    ['lbu', e.lbu(R.a0, R.t0, 0)],
    ['lhu', e.lhu(R.a0, R.t0, 0)],
    ['lwu', e.lwu(R.a0, R.t0, 0)],
    ['sb', e.sb(R.a0, R.t0, 0)],
    ['sh', e.sh(R.a0, R.t0, 0)],
    ['sw', e.sw(R.a0, R.t0, 0)],
    ['sd', e.sd(R.a0, R.t0, 0)],
  ])('is noticed after a device access by %s', (_n, inst) => {
    const m = machine([inst, e.addi(R.a1, 0, 1), e.wfi()], { regs: { [R.t0]: 0x1000_0000n } });
    m.bus.map(0x1000_0000, 8);
    m.bus.onLoad = () => m.hart.stop();
    m.bus.onStore = () => m.hart.stop();
    expect(m.run()).toBe(EXIT_STOPPED);
    expect(m.hart.getPc()).toBe(DRAM + 4);
    expect(m.bus.log).toHaveLength(1);
  });

  it('from inside onMiss during a fetch stops after that instruction', () => {
    const m = machine([e.addi(R.a0, 0, 1), e.addi(R.a1, 0, 1), e.wfi()]);
    m.ram.onMiss = (page) => {
      m.ram.pageState[page] = 2;
      m.hart.stop();
      return true;
    };
    expect(m.run()).toBe(EXIT_STOPPED);
    expect(m.hart.getPc()).toBe(DRAM + 4);
    expect(m.hart.stats.cycles).toBe(1);
    expect(m.run()).toBe(EXIT_WFI);
    expect([m.x(R.a0), m.x(R.a1)]).toEqual([1n, 1n]);
  });

  it('a bus that asks for attention on every ROM fetch still lets the hart progress', () => {
    const m = machine([e.addi(R.a1, 0, 6), e.wfi()]);
    const rom = m.bus.map(0x1000, 0x100);
    [e.addi(R.a0, 0, 5), ...e.li(R.t0, DRAM), e.jalr(0, R.t0, 0)].forEach((w, i) => new DataView(rom.buffer).setUint32(i * 4, w, true));
    m.bus.onLoad = () => m.hart.setPendingInterrupt(3, false);
    m.hart.setPc(0x1000);
    expect(m.run(100)).toBe(EXIT_WFI);
    expect([m.x(R.a0), m.x(R.a1)]).toEqual([5n, 6n]);
  });

  it('between runs makes the next run stop before executing anything', () => {
    const m = machine([e.addi(R.a0, 0, 1), e.wfi()]);
    m.hart.stop();
    expect(m.run()).toBe(EXIT_STOPPED);
    expect(m.hart.stats.instret).toBe(0);
    expect(m.run()).toBe(EXIT_WFI);
    expect(m.x(R.a0)).toBe(1n);
  });
});

describe('registers and pc', () => {
  it('getReg/setReg round-trip 64-bit values; x0 reads 0; bad indices throw', () => {
    const m = machine([]);
    for (const v of [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0x1234_5678_9abc_def0n]) {
      m.hart.setReg(7, v);
      expect(m.hart.getReg(7)).toBe(v);
    }
    m.hart.setReg(7, 2n ** 64n + 5n); // taken mod 2^64
    expect(m.hart.getReg(7)).toBe(5n);
    expect(m.hart.getReg(0)).toBe(0n);
    expect(() => m.hart.getReg(32)).toThrow(RangeError);
    expect(() => m.hart.setReg(-1, 0n)).toThrow(RangeError);
  });

  it('setPc moves execution; a misaligned pc raises instruction-address-misaligned', () => {
    const m = machine([e.addi(R.a0, 0, 1), e.addi(R.a1, 0, 1), e.wfi()]);
    m.hart.setPc(DRAM + 4);
    expect(m.run()).toBe(EXIT_WFI);
    expect([m.x(R.a0), m.x(R.a1)]).toEqual([0n, 1n]);
    m.hart.setPc(DRAM + 1); // odd: misaligned even with C
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.MisalignedFetch), mtval: BigInt(DRAM + 1) });
    expect(() => m.hart.setPc(2 ** 60)).toThrow(RangeError);
  });

  it('reset() returns to resetPc with registers and CSRs cleared', () => {
    const m = machine([e.addi(R.a0, 0, 1), e.csrrsi(0, 0x300, 8), e.wfi()]);
    m.run();
    m.hart.reset();
    expect(m.hart.getPc()).toBe(DRAM);
    expect(m.x(R.a0)).toBe(0n);
    expect(m.csr(0x300)).toBe(0xa_0000_1800n); // UXL = SXL = 2, MPP = M
    expect(m.hart.stats.instret).toBe(0);
    expect(m.hart.getPrivilege()).toBe(3);
  });
});

describe('two harts on one RAM', () => {
  it("see each other's stores, including into code the other has decoded", () => {
    const ram = new GuestRam(DRAM, 0x10000);
    const bus = new TestBus();
    const code = DRAM + 0x1000;
    ram.writeWords(code, [e.addi(R.a0, 0, 1), e.wfi()]);
    ram.writeWords(DRAM, [e.sw(R.t1, R.t0, 0), e.wfi()]);
    const a = new Hart({ hartId: 0, ram, bus, resetPc: DRAM });
    const b = new Hart({ hartId: 1, ram, bus, resetPc: code });
    expect(b.run(10)).toBe(EXIT_WFI);
    expect(b.getReg(R.a0)).toBe(1n);
    a.setReg(R.t0, BigInt(code));
    a.setReg(R.t1, BigInt(e.addi(R.a0, 0, 2)));
    expect(a.run(10)).toBe(EXIT_WFI);
    b.setPc(code);
    expect(b.run(10)).toBe(EXIT_WFI);
    expect(b.getReg(R.a0)).toBe(2n);
    expect(b.readCsr(0xf14)).toBe(1n);
  });
});
