// The C extension: every RV64C form decodes to the same internal op as its 32-bit twin
// and executes to the same state (table-driven), control transfers link and step by 2,
// reserved encodings are illegal with tval = the parcel, and a 32-bit instruction that
// straddles a page boundary is fetched from both pages.

import { describe, expect, it } from 'vitest';
import { expandCompressed, decodeCompressedInto } from './decode.js';
import { C_FLAG, decodeInto } from '../../decoder.js';
import { Csr } from '../../csr.js';
import { PageState } from '../../memory.js';
import { Op } from '../../ops.js';
import { Cause } from '../../trap.js';
import { DATA, DRAM, e, HANDLER, machine, R, trapInfo, type Machine } from '../../harness.test-util.js';
import { CODE, mTrap, PageTables, privMachine, PRIV_S, PT_BASE, PTE } from '../../mmu/paging.test-util.js';

const { fdd } = e;

/** Writes a program of mixed 16/32-bit instructions at pa. */
function load(m: Machine, pa: number, program: readonly number[]): void {
  m.ram.writeBytes(pa, e.programBytes(program));
}

/** A machine with every register set to a distinct value, sp and x8..x15 pointing into
 *  a data page full of a pattern, FS on, and `program` at DRAM. */
function prepared(program: readonly number[]): Machine {
  const m = machine([]);
  load(m, DRAM, program);
  m.hart.writeCsr(Csr.mstatus, 1n << 13n);
  for (let r = 1; r < 32; r++) m.hart.setReg(r, BigInt(r) * 0x0101_0101_0123n - 0x10_0000n * BigInt(r & 3));
  m.hart.setReg(R.sp, BigInt(DATA + 0x100));
  for (let r = 8; r < 16; r++) m.hart.setReg(r, BigInt(DATA + 0x200 + 8 * r));
  const pattern = new Uint8Array(0x1000);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 37 + 11) & 0xff;
  m.ram.writeBytes(DATA, pattern);
  return m;
}

/** Integer registers and the data page (f registers reach it through c.fsd/c.fsdsp, and
 *  c.fld/c.fldsp are compared by storing nothing else: their twin loads the same bits). */
function state(m: Machine): { x: bigint[]; mem: string } {
  return {
    x: Array.from({ length: 32 }, (_, i) => m.x(i)),
    mem: Buffer.from(m.ram.readBytes(DATA, 0x1000)).toString('hex'),
  };
}

const C_FORMS: [string, number, number][] = [
  ['c.addi4spn', e.cAddi4spn(R.s1, 1020), e.addi(R.s1, R.sp, 1020)],
  ['c.fld', e.cFld(10, R.a2, 248), e.fld(10, R.a2, 248)],
  ['c.lw', e.cLw(R.a0, R.a1, 124), e.lw(R.a0, R.a1, 124)],
  ['c.ld', e.cLd(R.a3, R.s0, 8), e.ld(R.a3, R.s0, 8)],
  ['c.fsd', e.cFsd(9, R.a5, 16), e.fsd(9, R.a5, 16)],
  ['c.sw', e.cSw(R.a4, R.a0, 64), e.sw(R.a4, R.a0, 64)],
  ['c.sd', e.cSd(R.s1, R.a2, 248), e.sd(R.s1, R.a2, 248)],
  ['c.nop', e.cNop(), e.addi(0, 0, 0)],
  ['c.addi', e.cAddi(R.t2, -32), e.addi(R.t2, R.t2, -32)],
  ['c.addi (hint: imm 0)', e.cAddi(R.t2, 0), e.addi(R.t2, R.t2, 0)],
  ['c.addiw', e.cAddiw(R.a7, 31), e.addiw(R.a7, R.a7, 31)],
  ['c.li', e.cLi(R.s11, -1), e.addi(R.s11, 0, -1)],
  ['c.li (hint: rd x0)', e.cLi(0, 5), e.addi(0, 0, 5)],
  ['c.lui', e.cLui(R.t4, 0xfffe0), e.lui(R.t4, 0xfffe0)],
  ['c.lui positive', e.cLui(R.gp, 0x1f), e.lui(R.gp, 0x1f)],
  ['c.addi16sp', e.cAddi16sp(-512), e.addi(R.sp, R.sp, -512)],
  ['c.addi16sp positive', e.cAddi16sp(496), e.addi(R.sp, R.sp, 496)],
  ['c.srli', e.cSrli(R.a3, 63), e.srli(R.a3, R.a3, 63)],
  ['c.srli (hint: 0)', e.cSrli(R.a3, 0), e.srli(R.a3, R.a3, 0)],
  ['c.srai', e.cSrai(R.s0, 33), e.srai(R.s0, R.s0, 33)],
  ['c.andi', e.cAndi(R.a4, -3), e.andi(R.a4, R.a4, -3)],
  ['c.sub', e.cSub(R.a0, R.a1), e.sub(R.a0, R.a0, R.a1)],
  ['c.xor', e.cXor(R.s1, R.a5), e.xor(R.s1, R.s1, R.a5)],
  ['c.or', e.cOr(R.a2, R.a3), e.or(R.a2, R.a2, R.a3)],
  ['c.and', e.cAnd(R.a4, R.s0), e.and(R.a4, R.a4, R.s0)],
  ['c.subw', e.cSubw(R.a0, R.a5), e.subw(R.a0, R.a0, R.a5)],
  ['c.addw', e.cAddw(R.a1, R.a2), e.addw(R.a1, R.a1, R.a2)],
  ['c.slli', e.cSlli(R.t6, 40), e.slli(R.t6, R.t6, 40)],
  ['c.fldsp', e.cFldsp(31, 504), e.fld(31, R.sp, 504)],
  ['c.lwsp', e.cLwsp(R.ra, 252), e.lw(R.ra, R.sp, 252)],
  ['c.ldsp', e.cLdsp(R.t0, 8), e.ld(R.t0, R.sp, 8)],
  ['c.mv', e.cMv(R.s5, R.t6), e.add(R.s5, 0, R.t6)],
  ['c.add', e.cAdd(R.s6, R.a0), e.add(R.s6, R.s6, R.a0)],
  ['c.fsdsp', e.cFsdsp(5, 256), e.fsd(5, R.sp, 256)],
  ['c.swsp', e.cSwsp(R.t3, 12), e.sw(R.t3, R.sp, 12)],
  ['c.sdsp', e.cSdsp(R.a6, 496), e.sd(R.a6, R.sp, 496)],
];

describe('every compressed form is its 32-bit twin', () => {
  it.each(C_FORMS)('%s decodes to the same op, registers and immediate', (_n, c, twin) => {
    expect(expandCompressed(c) >>> 0).toBe(twin >>> 0);
    const a = new Int32Array(2);
    const b = new Int32Array(2);
    decodeCompressedInto(c, a, 0);
    decodeInto(twin, b, 0);
    expect(a[0]! & ~C_FLAG).toBe(b[0]);
    expect(a[0]! & C_FLAG).toBe(C_FLAG);
    // FP loads/stores keep the parcel above the offset (for an illegal-instruction tval).
    const op = b[0]! & 0xff;
    const fpMem = op >= Op.FLW && op <= Op.FSD;
    expect(fpMem ? (a[1]! << 20) >> 20 : a[1]).toBe(fpMem ? (b[1]! << 20) >> 20 : b[1]);
    if (fpMem) expect(a[1]! >>> 16).toBe(c);
  });

  it.each(C_FORMS)('%s executes to the same state, pc + 2', (_n, c, twin) => {
    // f registers get values from the integer ones first (fmv.d.x f_i, x_i) in both runs.
    const setup = Array.from({ length: 32 }, (_, i) => fdd.fmvFromX(i, i));
    const mc = prepared([...setup, c, e.wfi()]);
    const mt = prepared([...setup, twin, e.wfi()]);
    expect(mc.run().kind).toBe('wfi');
    expect(mt.run().kind).toBe('wfi');
    expect(mc.hart.getPc()).toBe(DRAM + 4 * 32 + 2 + 4);
    expect(mt.hart.getPc()).toBe(DRAM + 4 * 32 + 4 + 4);
    expect(state(mc)).toEqual(state(mt));
    expect(mc.hart.stats.exceptions + mt.hart.stats.exceptions).toBe(0);
  });
});

describe('compressed control transfer', () => {
  it('c.j and c.beqz/c.bnez jump by their offsets; not taken they step by 2', () => {
    // 0: c.beqz a0, +6 (taken: a0 = 0) | 2: c.li a1, 1 | 4: c.li a1, 2 | 6: c.bnez a0, +4 (not taken)
    // 8: c.j +4 | 10: c.li a2, 9 (skipped) | 12: c.li a3, 7 | 14: wfi
    const m = machine([]);
    load(m, DRAM, [e.cBeqz(R.a0, 6), e.cLi(R.a1, 1), e.cLi(R.a1, 2), e.cBnez(R.a0, 4), e.cJ(4), e.cLi(R.a2, 9), e.cLi(R.a3, 7), e.wfi()]);
    expect(m.run().kind).toBe('wfi');
    expect([m.x(R.a1), m.x(R.a2), m.x(R.a3)]).toEqual([0n, 0n, 7n]);
    expect(m.hart.stats.instret).toBe(5);
  });

  it('c.jalr links pc + 2 and jumps to rs1 (read before the link is written); c.jr does not link', () => {
    const m = machine([]);
    // 0: c.jalr ra (ra = DRAM + 8) | 2: c.nop | 4: wfi | 8: c.mv a0, ra | 10: c.jr a1 -> 4
    load(m, DRAM, [e.cJalr(R.ra), e.cNop(), e.wfi(), e.cMv(R.a0, R.ra), e.cJr(R.a1)]);
    m.hart.setReg(R.ra, BigInt(DRAM + 8));
    m.hart.setReg(R.a1, BigInt(DRAM + 4));
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(BigInt(DRAM + 2));
    expect(m.x(R.ra)).toBe(BigInt(DRAM + 2));
    expect(m.hart.getPc()).toBe(DRAM + 8);
  });

  it('c.ebreak is a breakpoint with tval = its pc; mepc may have bit 1 set', () => {
    const m = machine([]);
    load(m, DRAM, [e.cNop(), e.cEbreak()]);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.Breakpoint), mepc: BigInt(DRAM + 2), mtval: BigInt(DRAM + 2) });
  });

  it('mret returns to a 2-aligned mepc', () => {
    const m = machine([]);
    load(m, DRAM, [e.cNop(), e.ecall(), e.cLi(R.a0, 3), e.wfi()]);
    m.ram.writeWords(HANDLER, [e.csrr(R.t0, Csr.mepc), e.addi(R.t0, R.t0, 4), e.csrw(Csr.mepc, R.t0), e.mret()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(3n);
  });
});

describe('reserved encodings', () => {
  it.each([
    ['all zeros', 0x0000],
    ['c.addi4spn with nzuimm 0', 0x0004],
    ['quadrant 0, funct3 100', 0x8000],
    ['c.addiw rd = x0', 0x2001],
    ['c.lui nzimm 0', 0x6081],
    ['c.addi16sp nzimm 0', 0x6101],
    ['c.subw slot 10 (reserved)', 0x9c41],
    ['c.subw slot 11 (reserved)', 0x9c61],
    ['c.lwsp rd = x0', 0x4002],
    ['c.ldsp rd = x0', 0x6002],
    ['c.jr rs1 = x0', 0x8002],
  ])('%s (0x%s) is illegal with tval = the parcel', (_n, parcel) => {
    const m = machine([]);
    load(m, DRAM, [e.cNop(), parcel, e.wfi()]);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.IllegalInstruction), mepc: BigInt(DRAM + 2), mtval: BigInt(parcel) });
  });

  it('a compressed FP load/store while FS is Off: tval = the parcel', () => {
    const parcel = e.cFsdsp(3, 8);
    const m = machine([]);
    load(m, DRAM, [parcel]);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.IllegalInstruction), mtval: BigInt(parcel) });
  });
});

describe('fetch across a page boundary', () => {
  const PAGE2 = DRAM + 0x2000; // the second page starts here
  const AT = PAGE2 - 2;

  function straddle(): Machine {
    const m = machine([e.jal(0, AT - DRAM)]);
    // addi a0, a0, 0x123 at 0x...1ffe: its upper half is on the next page. Then c.li a1, 1.
    load(m, AT, [e.addi(R.a0, R.a0, 0x123), e.cLi(R.a1, 1), e.wfi()]);
    return m;
  }

  it('a 32-bit instruction at offset 0xffe runs, from both pages', () => {
    const m = straddle();
    expect(m.run().kind).toBe('wfi');
    expect([m.x(R.a0), m.x(R.a1)]).toEqual([0x123n, 1n]);
  });

  it('asks onMiss for the second page, and faults at its first byte when refused', () => {
    const m = straddle();
    const page2 = (PAGE2 - DRAM) / 4096;
    const asked: number[] = [];
    m.ram.pageState.fill(PageState.Invalid);
    m.ram.onMiss = (p) => {
      asked.push(p);
      if (p === page2) return false;
      m.ram.pageState[p] = PageState.Modified;
      return true;
    };
    m.run();
    expect(asked).toContain(page2);
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.FetchAccess), mepc: BigInt(AT), mtval: BigInt(PAGE2) });
  });

  it('is not cached: a store to the second page changes the instruction next time', () => {
    const m = machine([]);
    // Loop twice through the straddling addi; between the passes patch its upper half.
    load(m, DRAM, [e.jal(0, AT - DRAM)]);
    load(m, AT, [e.addi(R.a0, R.a0, 1), e.cAddi(R.s1, 1), e.cLi(R.t0, 2), e.wfi()]);
    load(m, PAGE2 + 8, [e.wfi()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(1n);
    // addi a0, a0, 1 -> addi a0, a0, 0x7ff: only the upper parcel changes (imm bits 31:20).
    const patched = e.addi(R.a0, R.a0, 0x7ff);
    m.hart.setReg(R.t1, BigInt(PAGE2));
    m.hart.setReg(R.t2, BigInt(patched >>> 16));
    m.ram.writeWords(DRAM + 0x400, [e.sh(R.t2, R.t1, 0), e.jal(0, AT - (DRAM + 0x404))]);
    m.hart.setPc(DRAM + 0x400);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(1n + 0x7ffn);
  });

  it('a compressed instruction in the last parcel of a page runs too', () => {
    const m = machine([e.jal(0, AT - DRAM)]);
    load(m, AT, [e.cLi(R.a2, -3), e.wfi()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a2)).toBe(-3n);
  });
});

describe('fetch across a page boundary under Sv39', () => {
  const VA = 0x4000_0000n;
  const PAGE2_PA = CODE + 0x5000; // the second virtual page, away from the first physically

  /** S-mode code at VA + 0xff8: c.li a0, 1; c.nop; c.nop; then addi a0, a0, 0x100 at
   *  VA + 0xffe, whose upper half is on the next virtual page; then wfi. */
  function pagedStraddle(): { m: Machine; pt: PageTables } {
    const m = privMachine(PRIV_S, VA + 0xff8n, [], CODE);
    const pt = new PageTables(m.ram, PT_BASE, 3);
    pt.map(VA, CODE, PTE.R | PTE.X | PTE.A);
    pt.map(VA + 0x1000n, PAGE2_PA, PTE.R | PTE.X | PTE.A);
    m.hart.writeCsr(Csr.satp, pt.satp());
    const bytes = e.programBytes([e.cLi(R.a0, 1), e.cNop(), e.cNop(), e.addi(R.a0, R.a0, 0x100), e.wfi()]);
    m.ram.writeBytes(CODE + 0xff8, bytes.subarray(0, 8));
    m.ram.writeBytes(PAGE2_PA, bytes.subarray(8));
    m.ram.writeBytes(CODE + 0x1000, new Uint8Array([0xff, 0xff, 0xff, 0xff])); // not the next page
    return { m, pt };
  }

  it('takes the upper half from the page the next virtual page maps to', () => {
    const { m } = pagedStraddle();
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(0x101n);
    expect(m.hart.getPrivilege()).toBe(PRIV_S);
  });

  it('an unmapped second page is an instruction page fault at its first byte, epc the instruction', () => {
    const { m, pt } = pagedStraddle();
    pt.setPte(VA + 0x1000n, 0n);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: 12n, mepc: VA + 0xffen, mtval: VA + 0x1000n });
    expect(m.x(R.a0)).toBe(1n);
  });

  it('a second page without X is an instruction page fault too', () => {
    const { m, pt } = pagedStraddle();
    pt.map(VA + 0x1000n, PAGE2_PA, PTE.R | PTE.A);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: 12n, mepc: VA + 0xffen, mtval: VA + 0x1000n });
  });
});
