// Loads, stores and fetches: RAM fast and slow paths, misaligned accesses, the bus,
// access faults, the coherence hook (onMiss) and the decode cache's invalidation.

import { describe, expect, it } from 'vitest';
import { Cause } from './trap.js';
import { PageState } from './memory.js';
import { DATA, DRAM, e, exec, HANDLER, machine, R, s64, trapInfo } from './harness.test-util.js';

const DEV = 0x1000_0000;
const pageOf = (pa: number): number => Math.floor((pa - DRAM) / 4096);

describe('loads', () => {
  const bytes = new Uint8Array([0x80, 0xff, 0x7f, 0x80, 0x01, 0x02, 0x03, 0x84]);
  function load(op: (rd: number, rs1: number, imm: number) => number, off: number): bigint {
    const m = machine([op(R.a0, R.t0, off), e.wfi()], { regs: { [R.t0]: BigInt(DATA) } });
    m.ram.writeBytes(DATA, bytes);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPc()).toBe(DRAM + 8);
    return m.x(R.a0);
  }

  it('LB/LBU sign- and zero-extend a byte', () => {
    expect(load(e.lb, 0)).toBe(-128n);
    expect(load(e.lbu, 0)).toBe(128n);
    expect(load(e.lb, 2)).toBe(127n);
    expect(load(e.lbu, 1)).toBe(255n);
  });

  it('LH/LHU sign- and zero-extend a halfword', () => {
    expect(load(e.lh, 0)).toBe(-128n); // 0xff80
    expect(load(e.lhu, 0)).toBe(0xff80n);
    expect(load(e.lh, 2)).toBe(s64(0xffff_ffff_ffff_807fn));
    expect(load(e.lhu, 2)).toBe(0x807fn);
    expect(load(e.lh, 4)).toBe(0x0201n);
  });

  it('LW/LWU sign- and zero-extend a word', () => {
    expect(load(e.lw, 0)).toBe(s64(0xffff_ffff_807f_ff80n));
    expect(load(e.lwu, 0)).toBe(0x807f_ff80n);
    expect(load(e.lw, 4)).toBe(s64(0xffff_ffff_8403_0201n));
    expect(load(e.lwu, 4)).toBe(0x8403_0201n);
  });

  it('LD loads 64 bits little-endian', () => {
    expect(load(e.ld, 0)).toBe(s64(0x8403_0201_807f_ff80n));
  });

  it('with a negative offset from the base register', () => {
    const m = exec([e.ld(R.a0, R.t0, -8)], { regs: { [R.t0]: BigInt(DATA + 8) } });
    expect(m.x(R.a0)).toBe(0n);
    m.ram.writeBytes(DATA, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    m.hart.setPc(DRAM);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(0x0807_0605_0403_0201n);
  });

  it('into x0 still performs the access (and faults)', () => {
    const m = machine([e.lw(0, 0, 0x100)]);
    m.run();
    expect(trapInfo(m).mcause).toBe(BigInt(Cause.LoadAccess));
    expect(trapInfo(m).mtval).toBe(0x100n);
    expect(m.x(0)).toBe(0n);
  });
});

describe('stores', () => {
  it('SB/SH/SW/SD write exactly their bytes', () => {
    const v = 0x1122_3344_5566_7788n;
    const m = machine([e.sb(R.t1, R.t0, 1), e.sh(R.t1, R.t0, 2), e.sw(R.t1, R.t0, 4), e.sd(R.t1, R.t0, 8), e.wfi()], {
      regs: { [R.t0]: BigInt(DATA), [R.t1]: v },
    });
    m.ram.writeBytes(DATA, new Uint8Array(24).fill(0xaa));
    expect(m.run().kind).toBe('wfi');
    expect([...m.ram.readBytes(DATA, 24)]).toEqual([
      0xaa, 0x88, 0x88, 0x77, 0x88, 0x77, 0x66, 0x55, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    ]);
  });

  it('a store then a load of the same address round-trips every width', () => {
    const m = exec(
      [
        e.sd(R.t1, R.t0, 0),
        e.ld(R.a0, R.t0, 0),
        e.sw(R.t1, R.t0, 8),
        e.lw(R.a1, R.t0, 8),
        e.sh(R.t1, R.t0, 16),
        e.lh(R.a2, R.t0, 16),
        e.sb(R.t1, R.t0, 24),
        e.lb(R.a3, R.t0, 24),
      ],
      { regs: { [R.t0]: BigInt(DATA), [R.t1]: -2n } },
    );
    expect([m.x(R.a0), m.x(R.a1), m.x(R.a2), m.x(R.a3)]).toEqual([-2n, -2n, -2n, -2n]);
  });
});

describe('misaligned RAM accesses are performed, as on QEMU virt', () => {
  it('loads at odd offsets and across a page boundary', () => {
    const m = machine([e.lw(R.a0, R.t0, 1), e.ld(R.a1, R.t0, 4), e.lh(R.a2, R.t1, -1), e.ld(R.a3, R.t1, -3), e.wfi()], {
      regs: { [R.t0]: BigInt(DATA), [R.t1]: BigInt(DATA + 0x1000) },
    });
    m.ram.writeBytes(
      DATA,
      Uint8Array.from({ length: 16 }, (_, i) => i + 1),
    );
    m.ram.writeBytes(DATA + 0x1000 - 4, new Uint8Array([0xa1, 0xa2, 0xa3, 0xa4, 0xb1, 0xb2, 0xb3, 0xb4]));
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.stats.exceptions).toBe(0);
    expect(m.ux(R.a0)).toBe(0x0504_0302n);
    expect(m.ux(R.a1)).toBe(0x0c0b_0a09_0807_0605n);
    expect(m.ux(R.a2)).toBe(0xffff_ffff_ffff_b1a4n);
    expect(m.ux(R.a3)).toBe(0x00b4_b3b2_b1a4_a3a2n);
  });

  it('stores at odd offsets and across a page boundary', () => {
    const m = exec([e.sw(R.t2, R.t0, 3), e.sd(R.t2, R.t1, -4)], {
      regs: { [R.t0]: BigInt(DATA), [R.t1]: BigInt(DATA + 0x1000), [R.t2]: 0x0102_0304_0506_0708n },
    });
    expect([...m.ram.readBytes(DATA, 8)]).toEqual([0, 0, 0, 8, 7, 6, 5, 0]);
    expect([...m.ram.readBytes(DATA + 0x1000 - 4, 8)]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(m.hart.stats.exceptions).toBe(0);
  });
});

describe('access faults', () => {
  it('a load from nothing is a load access fault with mtval = the address', () => {
    const m = machine([e.ld(R.a0, R.t0, 8)], { regs: { [R.t0]: 0x2000n } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.LoadAccess), mepc: BigInt(DRAM), mtval: 0x2008n, pc: HANDLER + 4 });
  });

  it('a store to nothing is a store access fault', () => {
    const m = machine([e.sw(R.a0, R.t0, -4)], { regs: { [R.t0]: 0x3000n } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.StoreAccess), mtval: 0x2ffcn });
  });

  it('addresses with the high bits set fault with the exact 64-bit mtval', () => {
    const m = machine([e.lw(R.a0, R.t0, 0)], { regs: { [R.t0]: s64(0xffff_ffff_8000_0000n) } });
    m.run();
    expect(trapInfo(m).mtval).toBe(0xffff_ffff_8000_0000n);
    const m2 = machine([e.sd(R.a0, R.t0, 0)], { regs: { [R.t0]: 0x1234_5678_9abc_def0n } });
    m2.run();
    expect(trapInfo(m2)).toMatchObject({ mcause: BigInt(Cause.StoreAccess), mtval: 0x1234_5678_9abc_def0n });
  });

  it('an access that straddles the end of RAM faults; the last aligned one does not', () => {
    const end = DRAM + 0x20000;
    const ok = exec([e.ld(R.a0, R.t0, -8)], { regs: { [R.t0]: BigInt(end) } });
    expect(ok.hart.stats.exceptions).toBe(0);
    const m = machine([e.ld(R.a0, R.t0, -4)], { regs: { [R.t0]: BigInt(end) } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.LoadAccess), mtval: BigInt(end - 4) });
  });

  it('a fetch from nothing is an instruction access fault with mepc = mtval = the target', () => {
    const m = machine([e.jalr(R.ra, R.t0, 0)], { regs: { [R.t0]: 0x2000n } });
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.FetchAccess), mepc: 0x2000n, mtval: 0x2000n });
    expect(m.x(R.ra)).toBe(BigInt(DRAM + 4));
  });
});

describe('the bus', () => {
  function withDevice(program: number[], regs: Record<number, bigint> = {}) {
    const m = machine([...program, e.wfi()], { regs: { [R.t0]: BigInt(DEV), ...regs } });
    const dev = m.bus.map(DEV, 0x100);
    return { m, dev };
  }

  it('loads of every width, sign- or zero-extended by the hart', () => {
    const { m, dev } = withDevice([
      e.lb(R.a0, R.t0, 0),
      e.lbu(R.a1, R.t0, 0),
      e.lh(R.a2, R.t0, 0),
      e.lwu(R.a3, R.t0, 4),
      e.ld(R.a4, R.t0, 8),
      e.lw(R.a5, R.t0, 4),
    ]);
    dev.set([0x80, 0x90, 0, 0, 0xfe, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(-128n);
    expect(m.x(R.a1)).toBe(128n);
    expect(m.x(R.a2)).toBe(s64(0xffff_ffff_ffff_9080n));
    expect(m.x(R.a3)).toBe(0xffff_fffen);
    expect(m.x(R.a4)).toBe(0x0807_0605_0403_0201n);
    expect(m.x(R.a5)).toBe(-2n);
    expect(m.bus.log.map((a) => [a.pa - DEV, a.size])).toEqual([
      [0, 1],
      [0, 1],
      [0, 2],
      [4, 4],
      [8, 8],
      [4, 4],
    ]);
  });

  it('stores hand the device the value zero-extended from its size', () => {
    const { m, dev } = withDevice([e.sb(R.t1, R.t0, 0), e.sh(R.t1, R.t0, 2), e.sw(R.t1, R.t0, 4), e.sd(R.t1, R.t0, 8)], {
      [R.t1]: s64(0xf1f2_f3f4_f5f6_f7f8n),
    });
    expect(m.run().kind).toBe('wfi');
    expect(m.bus.log.map((a) => [a.size, a.lo >>> 0, a.hi >>> 0])).toEqual([
      [1, 0xf8, 0],
      [2, 0xf7f8, 0],
      [4, 0xf5f6f7f8, 0],
      [8, 0xf5f6f7f8, 0xf1f2f3f4],
    ]);
    expect([...dev.subarray(0, 16)]).toEqual([0xf8, 0, 0xf8, 0xf7, 0xf8, 0xf7, 0xf6, 0xf5, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1]);
  });

  it('misaligned device accesses raise address-misaligned, never reach the device', () => {
    const { m } = withDevice([e.lw(R.a0, R.t0, 2)]);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.MisalignedLoad), mtval: BigInt(DEV + 2) });
    const { m: m2 } = withDevice([e.sd(R.a0, R.t0, 4)]);
    m2.run();
    expect(trapInfo(m2)).toMatchObject({ mcause: BigInt(Cause.MisalignedStore), mtval: BigInt(DEV + 4) });
    expect(m.bus.log).toEqual([]);
    expect(m2.bus.log).toEqual([]);
  });

  it('a device refusing an access is an access fault', () => {
    const m = machine([e.sw(R.a0, R.t0, 0)], { regs: { [R.t0]: BigInt(DEV) } });
    m.bus.store = () => false;
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.StoreAccess), mtval: BigInt(DEV) });
  });

  it('runs code fetched over the bus (boot ROM), then jumps to RAM', () => {
    const m = machine([e.addi(R.a1, 0, 6), e.wfi()]);
    const rom = m.bus.map(0x1000, 0x100);
    const code = [e.addi(R.a0, 0, 5), ...e.li(R.t0, DRAM), e.jalr(0, R.t0, 0)];
    code.forEach((w, i) => new DataView(rom.buffer).setUint32(i * 4, w, true));
    m.hart.setPc(0x1000);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(5n);
    expect(m.x(R.a1)).toBe(6n);
    expect(m.bus.log.filter((a) => a.op === 'load').map((a) => a.pa)).toEqual(code.map((_, i) => 0x1000 + 4 * i));
  });
});

describe('onMiss (coherence with the mmu)', () => {
  it('is consulted on first touch of each page, for read or write as the access needs', () => {
    const m = machine([e.ld(R.a0, R.t0, 0), e.sd(R.a0, R.t0, 8), e.sd(R.a0, R.t1, 0), e.wfi()], {
      regs: { [R.t0]: BigInt(DATA), [R.t1]: BigInt(DATA + 0x1000) },
    });
    const calls: [number, boolean][] = [];
    m.ram.onMiss = (page, write) => {
      calls.push([page, write]);
      m.ram.pageState[page] = write ? PageState.Modified : PageState.Shared;
      return true;
    };
    expect(m.run().kind).toBe('wfi');
    expect(calls).toEqual([
      [0, false], // code page, fetched
      [pageOf(DATA), false], // ld: a Shared copy is enough
      [pageOf(DATA), true], // sd: upgrade to Modified
      [pageOf(DATA) + 1, true], // sd to a page never touched
    ]);
    expect(m.ram.misses).toBe(4);
  });

  it('returning false is an access fault for the guest', () => {
    const denied = pageOf(DATA);
    const m = machine([e.lw(R.a0, R.t0, 0x10)], { regs: { [R.t0]: BigInt(DATA) } });
    m.ram.onMiss = (page) => {
      if (page === denied) return false;
      m.ram.pageState[page] = PageState.Modified;
      return true;
    };
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.LoadAccess), mtval: BigInt(DATA + 0x10) });
    const m2 = machine([e.sb(R.a0, R.t0, 3)], { regs: { [R.t0]: BigInt(DATA) } });
    m2.ram.onMiss = (page) => {
      if (page === denied) return false;
      m2.ram.pageState[page] = PageState.Modified;
      return true;
    };
    m2.run();
    expect(trapInfo(m2)).toMatchObject({ mcause: BigInt(Cause.StoreAccess), mtval: BigInt(DATA + 3) });
  });

  it('a fetch from a page onMiss refuses is an instruction access fault', () => {
    const m = machine([e.jal(0, 0x2000)]);
    m.ram.onMiss = (page) => {
      if (page === 2) return false;
      m.ram.pageState[page] = PageState.Modified;
      return true;
    };
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.FetchAccess), mepc: BigInt(DRAM + 0x2000), mtval: BigInt(DRAM + 0x2000) });
  });

  it('claiming success without granting the state is still a fault (no silent write to a Shared page)', () => {
    const m = machine([e.sw(R.a0, R.t0, 0)], { regs: { [R.t0]: BigInt(DATA) } });
    m.ram.pageState.fill(PageState.Shared);
    m.ram.onMiss = () => true;
    m.run();
    expect(trapInfo(m).mcause).toBe(BigInt(Cause.StoreAccess));
  });

  it("keepShared: no refill leaves a kept page Modified, a load's nor a run of pages'", () => {
    const kept = pageOf(DATA) + 1;
    const m = machine([e.ld(R.a0, R.t0, 0), e.ld(R.a1, R.t1, 0), e.wfi()], { regs: { [R.t0]: BigInt(DATA), [R.t1]: BigInt(DATA + 0x1000) } });
    m.ram.onMiss = (page) => {
      // Modified on the page asked and the next one (a run, as the cpu's page cache grants).
      m.ram.pageState[page] = PageState.Modified;
      if (page + 1 < m.ram.pageState.length) m.ram.pageState[page + 1] = PageState.Modified;
      return true;
    };
    m.ram.pageState[kept] = PageState.Modified;
    m.ram.keepShared(kept); // held Modified now: lowered at once
    expect(m.ram.pageState[kept]).toBe(PageState.Shared);
    m.ram.pageState[kept] = PageState.Invalid;
    expect(m.run().kind).toBe('wfi');
    expect(m.ram.pageState[kept - 1]).toBe(PageState.Modified);
    expect(m.ram.pageState[kept]).toBe(PageState.Shared);
    expect(() => m.ram.keepShared(m.ram.pageState.length)).toThrow(/no page/);
  });
});

describe('decoded code follows the bytes', () => {
  it('self-modifying code: a store into an already decoded instruction is seen when it runs again', () => {
    const replacement = e.addi(R.a0, 0, 42);
    const m = exec(
      [
        e.addi(R.s0, R.s0, 1), //  0: pass counter
        e.addi(R.a0, 0, 1), //     4: the slot being rewritten
        e.addi(R.t3, 0, 2), //     8
        e.beq(R.s0, R.t3, 16), // 12: second pass -> 28 (end)
        e.sw(R.t1, R.t2, 0), //   16: rewrite slot 4
        e.jal(0, -20), //         20: back to 0
        e.nop(), //               24
      ],
      { regs: { [R.t1]: BigInt(replacement), [R.t2]: BigInt(DRAM + 4) } },
    );
    expect(m.x(R.s0)).toBe(2n);
    expect(m.x(R.a0)).toBe(42n);
    expect(m.ram.code.invalidations).toBeGreaterThan(0);
  });

  it('a store that rewrites the very next instruction takes effect immediately', () => {
    // 0: sw t1, 4(t2) with t2 = DRAM   4: addi a0, x0, 1 (replaced by addi a0, x0, 99)
    const m = exec([e.sw(R.t1, R.t2, 4), e.addi(R.a0, 0, 1)], { regs: { [R.t1]: BigInt(e.addi(R.a0, 0, 99)), [R.t2]: BigInt(DRAM) } });
    expect(m.x(R.a0)).toBe(99n);
  });

  it.each([
    ['a byte store', e.sb, 0x7fn],
    // Misaligned, so it takes the slow path; the 0x13 rewrites the next slot's first
    // byte with the value it already has.
    ['a misaligned halfword store', e.sh, 0x137fn],
  ] as const)('%s into decoded code invalidates it', (_n, store, value) => {
    const m = exec(
      [
        e.addi(R.a0, 0, 1), //    0: imm[11:4] (byte 3) gets rewritten to 0x7f
        e.addi(R.s0, R.s0, 1), // 4
        e.addi(R.t3, 0, 2), //    8
        e.beq(R.s0, R.t3, 16), // 12: second pass -> 28 (end)
        store(R.t1, R.t2, 3), //  16
        e.jal(0, -20), //         20: back to 0
        e.nop(), //               24
      ],
      { regs: { [R.t1]: value, [R.t2]: BigInt(DRAM) } },
    );
    expect(m.x(R.s0)).toBe(2n);
    expect(m.x(R.a0)).toBe(0x7f1n);
  });

  it('FENCE.I drops code whose bytes changed behind the hart (no invalidateCode)', () => {
    const prog = [
      e.addi(R.a0, 0, 1), // 0: rewritten behind the hart's back after the first pass
      e.addi(R.s0, R.s0, 1), // 4
      e.addi(R.t3, 0, 2), // 8
      e.beq(R.s0, R.t3, 20), // 12: -> 32
      e.sb(0, R.t0, 0), // 16: poke the device: its callback edits RAM bytes directly
      e.fenceI(), // 20
      e.jal(0, -24), // 24: back to 0
      e.nop(), // 28
    ];
    const m = machine([...prog, e.wfi()], { regs: { [R.t0]: BigInt(DEV) } });
    m.bus.map(DEV, 0x10);
    m.bus.onStore = () => new DataView(m.ram.bytes.buffer).setUint32(0, e.addi(R.a0, 0, 7), true);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(7n);
    expect(m.ram.code.flushes).toBe(1);
  });

  it('a decoded page that was recalled is not trusted once refilled, even by a miss on another page', () => {
    const page1 = DRAM + 0x1000;
    const page2 = DRAM + 0x2000;
    const m = machine([]);
    m.ram.writeWords(page1, [e.addi(R.a0, 0, 1), e.wfi()]);
    m.ram.writeWords(page2, [e.jal(0, -0x1000)]);
    m.hart.setPc(page1);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(1n);
    // The mmu recalls page 1 (say another agent writes it) ...
    m.ram.pageState[1] = PageState.Invalid;
    // ... and the next miss, for page 2, prefetches page 1 too, with its new bytes.
    m.ram.onMiss = (page) => {
      new DataView(m.ram.bytes.buffer).setUint32(0x1000, e.addi(R.a0, 0, 2), true);
      m.ram.pageState[page] = PageState.Modified;
      m.ram.pageState[1] = PageState.Modified;
      return true;
    };
    m.hart.setPc(page2);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(2n);
  });

  it('without FENCE.I or invalidateCode a direct byte change is not seen (the documented contract)', () => {
    const m = machine([e.addi(R.a0, R.a0, 1), e.wfi()]);
    expect(m.run().kind).toBe('wfi');
    new DataView(m.ram.bytes.buffer).setUint32(0, e.addi(R.a0, R.a0, 100), true);
    m.hart.setPc(DRAM);
    m.run();
    expect(m.x(R.a0)).toBe(2n);
    m.ram.invalidateCode(0);
    m.hart.setPc(DRAM);
    m.run();
    expect(m.x(R.a0)).toBe(102n);
  });
});
