// A extension: LR/SC success, failure and reservation loss; every AMO in both widths
// against a reference (W forms sign-extend); alignment, faults, write ownership of the
// page, and AMOs to a device.

import { describe, expect, it } from 'vitest';
import { clearReservation } from './decode.js';
import { Hart } from '../../hart.js';
import { PageState } from '../../memory.js';
import { HartState } from '../../state.js';
import { Cause } from '../../trap.js';
import { DATA, DRAM, e, exec, HANDLER, machine, R, s64, TestBus, trapInfo, u64 } from '../../harness.test-util.js';

const DEV = 0x1000_0000;
const read64 = (m: ReturnType<typeof machine>, pa: number): bigint => new DataView(m.ram.readBytes(pa, 8).buffer).getBigUint64(0, true);
const write64 = (m: ReturnType<typeof machine>, pa: number, v: bigint): void => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  m.ram.writeBytes(pa, b);
};

describe('LR/SC', () => {
  it('LR.W sign-extends; SC.W after it succeeds (rd = 0) and stores', () => {
    const m = machine([e.lrW(R.a0, R.s0), e.addi(R.a1, R.a0, 1), e.scW(R.a2, R.a1, R.s0), e.wfi()], { regs: { [R.s0]: DATA } });
    write64(m, DATA, 0x1_8000_0000n);
    m.run();
    expect(m.x(R.a0)).toBe(-0x8000_0000n);
    expect(m.x(R.a2)).toBe(0n);
    expect(read64(m, DATA)).toBe(0x1_8000_0001n); // the upper word is untouched
  });

  it('LR.D/SC.D succeed on 64 bits', () => {
    const m = exec([...e.li(R.s0, DATA), e.lrD(R.a0, R.s0), e.addi(R.a1, R.a0, -1), e.scD(R.a2, R.a1, R.s0), e.ld(R.a3, R.s0, 0)]);
    expect(m.x(R.a2)).toBe(0n);
    expect(m.x(R.a3)).toBe(-1n);
  });

  it.each([
    ['without an LR', [e.scW(R.a2, R.a1, R.s0)]],
    ['after an SC already consumed the reservation', [e.lrW(R.a0, R.s0), e.scW(R.t0, R.a0, R.s0), e.scW(R.a2, R.a1, R.s0)]],
    ['to another address', [e.lrW(R.a0, R.s0), e.addi(R.s1, R.s0, 8), e.scW(R.a2, R.a1, R.s1)]],
    ['of another size', [e.lrD(R.a0, R.s0), e.scW(R.a2, R.a1, R.s0)]],
    ['after the reserved word changed', [e.lrW(R.a0, R.s0), e.addi(R.t0, R.a0, 5), e.sw(R.t0, R.s0, 0), e.scW(R.a2, R.a1, R.s0)]],
  ])('SC fails (rd = 1, no store) %s', (_n, body) => {
    const m = exec([...e.li(R.s0, DATA), ...e.li(R.a1, 42), ...e.li(R.s1, DATA + 8), ...body]);
    expect(m.x(R.a2)).toBe(1n);
    expect(read64(m, DATA + 8)).toBe(0n);
    expect(read64(m, DATA) & 0xffffffffn).not.toBe(42n);
  });

  it('a store of the same value between LR and SC keeps the reservation', () => {
    const m = exec([...e.li(R.s0, DATA), e.lrW(R.a0, R.s0), e.sw(R.a0, R.s0, 0), ...e.li(R.a1, 7), e.scW(R.a2, R.a1, R.s0)]);
    expect(m.x(R.a2)).toBe(0n);
  });

  it('another hart writing the reserved word makes the SC fail', () => {
    const a = machine([e.lrW(R.a0, R.s0), e.wfi(), e.scW(R.a2, R.a1, R.s0), e.wfi()], { regs: { [R.s0]: DATA, [R.a1]: 9 } });
    const b = new Hart({ hartId: 1, ram: a.ram, bus: new TestBus(), resetPc: DRAM + 0x100 });
    a.ram.writeWords(DRAM + 0x100, [e.sw(R.t0, R.s0, 0), e.wfi()]);
    b.setReg(R.s0, BigInt(DATA));
    b.setReg(R.t0, 1n);
    expect(a.run().kind).toBe('wfi');
    expect(b.run(1000).kind).toBe('wfi');
    expect(a.run().kind).toBe('wfi');
    expect(a.x(R.a2)).toBe(1n);
    expect(read64(a, DATA) & 0xffffffffn).toBe(1n);
  });

  it('clearReservation drops it (the hook for trap entry and xRET)', () => {
    const s = new HartState(0, machine([]).ram, new TestBus());
    s.resAddr = DATA;
    clearReservation(s);
    expect(s.resAddr).toBe(-1);
  });

  it('LR to a misaligned address: load address misaligned; SC: store/AMO address misaligned', () => {
    let m = machine([e.lrW(R.a0, R.s0)], { regs: { [R.s0]: DATA + 2 } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.MisalignedLoad), mtval: BigInt(DATA + 2), mepc: BigInt(DRAM) });
    m = machine([e.scD(R.a0, R.a1, R.s0)], { regs: { [R.s0]: DATA + 4 } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.MisalignedStore), mtval: BigInt(DATA + 4) });
  });
});

type AmoKind = 'swap' | 'add' | 'xor' | 'and' | 'or' | 'min' | 'max' | 'minu' | 'maxu';
const KINDS: AmoKind[] = ['swap', 'add', 'xor', 'and', 'or', 'min', 'max', 'minu', 'maxu'];
function ref(kind: AmoKind, old: bigint, v: bigint, bits: 32 | 64): bigint {
  const s = (x: bigint): bigint => BigInt.asIntN(bits, x);
  const u = (x: bigint): bigint => BigInt.asUintN(bits, x);
  switch (kind) {
    case 'swap':
      return u(v);
    case 'add':
      return u(old + v);
    case 'xor':
      return u(old ^ v);
    case 'and':
      return u(old & v);
    case 'or':
      return u(old | v);
    case 'min':
      return u(s(old) < s(v) ? old : v);
    case 'max':
      return u(s(old) > s(v) ? old : v);
    case 'minu':
      return u(old) < u(v) ? u(old) : u(v);
    case 'maxu':
      return u(old) > u(v) ? u(old) : u(v);
  }
}

describe('AMOs', () => {
  const PAIRS: [bigint, bigint][] = [
    [5n, 3n],
    [-1n, 1n],
    [0x7fff_ffffn, 1n],
    [0x8000_0000n, 0x7fff_ffffn],
    [-(2n ** 63n), 2n ** 63n - 1n],
    [0xffff_ffff_0000_0001n, 0x0000_0001_ffff_ffffn],
  ];
  it.each(KINDS)('amo%s.d: rd = old, memory = op(old, rs2)', (kind) => {
    for (const [old, v] of PAIRS) {
      const m2 = machine([...e.li(R.a1, v), e.amoD(kind, R.a0, R.a1, R.s0), e.wfi()], { regs: { [R.s0]: DATA } });
      write64(m2, DATA, old);
      m2.run();
      expect({ kind, old, v, rd: m2.x(R.a0), mem: read64(m2, DATA) }).toEqual({ kind, old, v, rd: s64(old), mem: ref(kind, old, v, 64) });
    }
  });

  it.each(KINDS)('amo%s.w: 32-bit operation, upper word kept, rd = old sign-extended', (kind) => {
    for (const [old, v] of PAIRS) {
      const m = machine([...e.li(R.a1, v), e.amoW(kind, R.a0, R.a1, R.s0), e.wfi()], { regs: { [R.s0]: DATA } });
      write64(m, DATA, (0xabcd_0123n << 32n) | (old & 0xffff_ffffn));
      m.run();
      const o32 = old & 0xffff_ffffn;
      expect({ kind, old, v, rd: m.x(R.a0), mem: read64(m, DATA) }).toEqual({
        kind,
        old,
        v,
        rd: BigInt.asIntN(32, o32),
        mem: (0xabcd_0123n << 32n) | ref(kind, o32, v & 0xffff_ffffn, 32),
      });
    }
  });

  it('rd may equal rs2 (old value wins) and rs1 (address read first)', () => {
    const m = machine([e.amoD('add', R.a1, R.a1, R.s0), e.amoW('swap', R.s0, R.a2, R.s0), e.wfi()], {
      regs: { [R.s0]: DATA, [R.a1]: 10, [R.a2]: 3 },
    });
    write64(m, DATA, 5n);
    m.run();
    expect(m.x(R.a1)).toBe(5n);
    expect(m.x(R.s0)).toBe(15n);
    expect(read64(m, DATA)).toBe(3n);
  });

  it('a misaligned AMO raises store/AMO address misaligned; outside memory a store/AMO access fault', () => {
    let m = machine([e.amoW('add', R.a0, R.a1, R.s0)], { regs: { [R.s0]: DATA + 1 } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.MisalignedStore), mtval: BigInt(DATA + 1) });
    m = machine([e.amoD('or', R.a0, R.a1, R.s0)], { regs: { [R.s0]: 0x4000_0000 } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.StoreAccess), mtval: 0x4000_0000n });
    m = machine([e.lrD(R.a0, R.s0)], { regs: { [R.s0]: 0x4000_0000 } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.LoadAccess) });
    expect(HANDLER).toBeGreaterThan(DRAM);
  });

  it('asks for write ownership of a Shared page, and faults if refused', () => {
    const m = machine([e.amoW('add', R.a0, R.a1, R.s0), e.wfi()], { regs: { [R.s0]: DATA, [R.a1]: 1 } });
    const page = (DATA - DRAM) / 4096;
    const asked: [number, boolean][] = [];
    m.ram.pageState.fill(PageState.Shared);
    m.ram.onMiss = (p, write) => {
      asked.push([p, write]);
      m.ram.pageState[p] = write ? PageState.Modified : PageState.Shared;
      return true;
    };
    m.run();
    expect(asked).toContainEqual([page, true]);
    expect(m.ram.pageState[page]).toBe(PageState.Modified);
    const m2 = machine([e.amoW('add', R.a0, R.a1, R.s0)], { regs: { [R.s0]: DATA } });
    m2.ram.pageState[page] = PageState.Shared;
    m2.ram.onMiss = (p, write) => {
      if (write && p === page) return false;
      m2.ram.pageState[p] = write ? PageState.Modified : PageState.Shared;
      return true;
    };
    m2.run();
    expect(trapInfo(m2)).toMatchObject({ mcause: BigInt(Cause.StoreAccess), mtval: BigInt(DATA) });
  });

  it('on a device: one load and one store of the full width', () => {
    const m = machine([e.amoW('or', R.a0, R.a1, R.s0), e.wfi()], { regs: { [R.s0]: DEV, [R.a1]: 0xf0 } });
    m.bus.map(DEV, 8).set([0x0f, 0, 0, 0x80]);
    m.run();
    expect(m.x(R.a0)).toBe(s64(0xffff_ffff_8000_000fn));
    expect(m.bus.log.map((a) => [a.op, a.size, u64(BigInt(a.lo >>> 0))])).toEqual([
      ['load', 4, 0x8000_000fn],
      ['store', 4, 0x8000_00ffn],
    ]);
  });
});
