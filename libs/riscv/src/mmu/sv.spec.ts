// Sv39/Sv48 translation (privileged spec 1.12, 4.3-4.5): walks, every permission fault,
// A/D updates, superpages, MPRV/SUM/MXR, SFENCE.VMA, canonical addresses, and the TLB
// that keeps the common case fast.

import { describe, expect, it } from 'vitest';
import { Csr } from '../csr.js';
import { Cause } from '../trap.js';
import { e, R, u64, type Machine } from '../harness.test-util.js';
import { TLB_INDEX_MASK } from './tlb.js';
import {
  CODE,
  DRAM,
  M_PARKED,
  PRIV_M,
  PRIV_S,
  PRIV_U,
  PT_BASE,
  PTE,
  PageTables,
  S_HANDLER,
  S_HANDLER_CODE,
  mTrap,
  privMachine,
  sTrap,
} from './paging.test-util.js';

/** Kernel-half code VA (negative as a signed number) and a user-half data VA. */
const VA_CODE = 0xffff_ffc0_0000_1000n;
const VA_DATA = 0x0000_0000_4000_0000n;
const DATA = DRAM + 0x20000;
const SUM = 1n << 18n;
const MXR = 1n << 19n;
const MPRV = 1n << 17n;

interface Paged {
  m: Machine;
  pt: PageTables;
}

/**
 * S-mode (or `mode`) code at VA_CODE (physical CODE, R+X), data page VA_DATA -> DATA with
 * `dataFlags`, satp = the tables; a1 = VA_DATA. Faults go to M (parked at M_PARKED).
 */
function paged(code: number[], dataFlags: number, opts: { mode?: number; levels?: 3 | 4; codeFlags?: number } = {}): Paged {
  const mode = opts.mode ?? PRIV_S;
  const m = privMachine(mode, VA_CODE, code, CODE);
  const pt = new PageTables(m.ram, PT_BASE, opts.levels ?? 3);
  pt.map(VA_CODE, CODE, opts.codeFlags ?? PTE.R | PTE.X | (mode === PRIV_U ? PTE.U : 0));
  if (dataFlags !== 0) pt.map(VA_DATA, DATA, dataFlags);
  m.hart.writeCsr(Csr.satp, pt.satp());
  m.hart.setReg(R.a1, VA_DATA);
  return { m, pt };
}

function readU64(m: Machine, pa: number): bigint {
  return new DataView(m.ram.readBytes(pa, 8).buffer).getBigUint64(0, true);
}

function writeU64(m: Machine, pa: number, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  m.ram.writeBytes(pa, b);
}

describe('Sv39 translation', () => {
  it('runs S-mode code at a kernel-half VA: fetch, AUIPC, loads and stores translate; ECALL reports the exact VA', () => {
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.addi(R.a2, R.a2, 1), e.sd(R.a2, R.a1, 8), e.auipc(R.a3, 0), e.ecall()], PTE.R | PTE.W);
    writeU64(m, DATA, 41n);
    expect(m.run().kind).toBe('wfi');
    expect(readU64(m, DATA + 8)).toBe(42n);
    expect(m.ux(R.a3)).toBe(VA_CODE + 12n);
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.EcallS), mepc: VA_CODE + 16n, mtval: 0n });
    // Hardware A/D: the code page was fetched (A), the data page read and written (A, D).
    expect(pt.pte(VA_CODE) & BigInt(PTE.A | PTE.D)).toBe(BigInt(PTE.A));
    expect(pt.pte(VA_DATA) & BigInt(PTE.A | PTE.D)).toBe(BigInt(PTE.A | PTE.D));
  });

  it('a load sets A but not D; a later store to the same page (TLB-cached read-only) sets D', () => {
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.ecall()], PTE.R | PTE.W);
    m.run();
    expect(pt.pte(VA_DATA) & BigInt(PTE.A | PTE.D)).toBe(BigInt(PTE.A));
    const { m: m2, pt: pt2 } = paged([e.ld(R.a2, R.a1, 0), e.sd(R.a2, R.a1, 0), e.ecall()], PTE.R | PTE.W);
    m2.run();
    expect(pt2.pte(VA_DATA) & BigInt(PTE.A | PTE.D)).toBe(BigInt(PTE.A | PTE.D));
  });

  it.each([
    ['unmapped', 0, e.ld(R.a2, R.a1, 0), Cause.LoadPageFault],
    ['read-only, store', PTE.R, e.sd(R.a2, R.a1, 0), Cause.StorePageFault],
    ['execute-only, load (MXR clear)', PTE.X, e.ld(R.a2, R.a1, 0), Cause.LoadPageFault],
    ['write-only (R = 0, W = 1 is reserved), store', PTE.W, e.sd(R.a2, R.a1, 0), Cause.StorePageFault],
    ['write+execute without read (reserved), load', PTE.W | PTE.X, e.ld(R.a2, R.a1, 0), Cause.LoadPageFault],
    ['U page from S without SUM, load', PTE.R | PTE.U, e.ld(R.a2, R.a1, 0), Cause.LoadPageFault],
    ['U page from S without SUM, store', PTE.R | PTE.W | PTE.U, e.sd(R.a2, R.a1, 0), Cause.StorePageFault],
  ])('%s: the right page fault, tval = the VA, epc = the instruction, no A set', (_n, flags, inst, cause) => {
    const { m, pt } = paged([e.nop(), inst, e.ecall()], flags);
    m.run();
    expect(m.hart.getPc()).toBe(M_PARKED);
    expect(mTrap(m)).toEqual({ mcause: BigInt(cause), mepc: VA_CODE + 4n, mtval: VA_DATA });
    if (flags !== 0) expect(pt.pte(VA_DATA) & BigInt(PTE.A)).toBe(0n);
  });

  it('a fetch from a page without X is an instruction page fault with tval = epc = the target', () => {
    const { m } = paged([e.jalr(0, R.a1, 8)], PTE.R | PTE.W);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.FetchPageFault), mepc: VA_DATA + 8n, mtval: VA_DATA + 8n });
  });

  it('SUM lets S load and store U pages but never execute them', () => {
    const { m } = paged([e.ld(R.a2, R.a1, 0), e.sd(R.a2, R.a1, 8), e.ecall()], PTE.R | PTE.W | PTE.U);
    m.hart.writeCsr(Csr.mstatus, (1n << 11n) | SUM);
    writeU64(m, DATA, 7n);
    m.run();
    expect(mTrap(m).mcause).toBe(BigInt(Cause.EcallS));
    expect(readU64(m, DATA + 8)).toBe(7n);
    const x = paged([e.jalr(0, R.a1, 0)], PTE.R | PTE.X | PTE.U);
    x.m.hart.writeCsr(Csr.mstatus, (1n << 11n) | SUM);
    x.m.run();
    expect(mTrap(x.m)).toEqual({ mcause: BigInt(Cause.FetchPageFault), mepc: VA_DATA, mtval: VA_DATA });
  });

  it('SUM toggled by S-mode takes effect at once (its TLB set changes)', () => {
    // Load with SUM (fills the SUM set), clear SUM, load again: page fault.
    const { m } = paged([e.ld(R.a2, R.a1, 0), e.csrc(Csr.sstatus, R.t0), e.ld(R.a2, R.a1, 0), e.ecall()], PTE.R | PTE.U);
    m.hart.writeCsr(Csr.mstatus, (1n << 11n) | SUM);
    m.hart.setReg(R.t0, SUM);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: VA_CODE + 8n, mtval: VA_DATA });
  });

  it('U-mode may use U pages and may not touch S pages', () => {
    const ok = paged([e.ld(R.a2, R.a1, 0), e.ecall()], PTE.R | PTE.U, { mode: PRIV_U });
    ok.m.run();
    expect(mTrap(ok.m).mcause).toBe(BigInt(Cause.EcallU));
    const bad = paged([e.ld(R.a2, R.a1, 0), e.ecall()], PTE.R, { mode: PRIV_U });
    bad.m.run();
    expect(mTrap(bad.m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: VA_CODE, mtval: VA_DATA });
    const fetch = paged([e.nop()], 0, { mode: PRIV_U, codeFlags: PTE.R | PTE.X });
    fetch.m.run();
    expect(mTrap(fetch.m)).toEqual({ mcause: BigInt(Cause.FetchPageFault), mepc: VA_CODE, mtval: VA_CODE });
  });

  it('MXR lets loads read execute-only pages; setting it from S takes effect at once', () => {
    const { m } = paged([e.csrs(Csr.sstatus, R.t0), e.ld(R.a2, R.a1, 0), e.ecall()], PTE.X);
    m.hart.setReg(R.t0, MXR);
    writeU64(m, DATA, 99n);
    m.run();
    expect(mTrap(m).mcause).toBe(BigInt(Cause.EcallS));
    expect(m.x(R.a2)).toBe(99n);
  });

  it('superpages: aligned 2 MiB and 1 GiB pages translate; a misaligned one is a page fault', () => {
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.ld(R.a3, R.a4, 0), e.ld(R.a5, R.a6, 0), e.ecall()], 0);
    pt.map(VA_DATA, DRAM, PTE.R, 1); // 2 MiB at 0x40000000 -> DRAM
    pt.map(0x8000_0000n, DRAM, PTE.R, 2); // 1 GiB at 0x80000000 -> DRAM
    pt.map(0x4020_0000n, DRAM + 0x1000, PTE.R, 1); // PPN not 2 MiB-aligned
    writeU64(m, DRAM + 0x12340, 5n);
    m.hart.setReg(R.a1, VA_DATA + 0x12340n);
    m.hart.setReg(R.a4, 0x8001_2340n);
    m.hart.setReg(R.a6, 0x4020_0000n);
    m.run();
    expect([m.x(R.a2), m.x(R.a3)]).toEqual([5n, 5n]);
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: VA_CODE + 8n, mtval: 0x4020_0000n });
  });

  it('malformed tables are page faults: invalid PTE, non-leaf with A/D/U, a pointer at level 0, reserved bits 63:54', () => {
    const cases: [string, (pt: PageTables) => void][] = [
      ['invalid leaf', (pt) => pt.setPte(VA_DATA, pt.pte(VA_DATA) & ~1n)],
      ['non-leaf with A', (pt) => pt.setPte(VA_DATA, pt.pte(VA_DATA, 1) | BigInt(PTE.A), 1)],
      ['non-leaf with U', (pt) => pt.setPte(VA_DATA, pt.pte(VA_DATA, 1) | BigInt(PTE.U), 1)],
      ['pointer at level 0', (pt) => pt.setPte(VA_DATA, pt.pte(VA_DATA) & ~BigInt(PTE.R | PTE.W | PTE.X))],
      ['PBMT set (no Svpbmt)', (pt) => pt.setPte(VA_DATA, pt.pte(VA_DATA) | (1n << 61n))],
      ['N set (no Svnapot)', (pt) => pt.setPte(VA_DATA, pt.pte(VA_DATA) | (1n << 63n))],
      ['reserved bit 54', (pt) => pt.setPte(VA_DATA, pt.pte(VA_DATA) | (1n << 54n))],
    ];
    for (const [name, spoil] of cases) {
      const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.ecall()], PTE.R | PTE.A);
      spoil(pt);
      m.run();
      expect(mTrap(m), name).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: VA_CODE, mtval: VA_DATA });
    }
  });

  it('non-canonical addresses are page faults, tval = the full 64-bit address', () => {
    const bad = 0x0000_0040_0000_0000n; // bit 38 set, bits 63:39 clear
    const { m } = paged([e.ld(R.a2, R.a1, 0)], PTE.R);
    m.hart.setReg(R.a1, bad);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: VA_CODE, mtval: bad });
    const far = 0x8000_0000_0000_1000n; // beyond 2^53 as well
    const j = paged([e.jalr(0, R.a1, 0)], PTE.R);
    j.m.hart.setReg(R.a1, far);
    j.m.run();
    expect(mTrap(j.m)).toEqual({ mcause: BigInt(Cause.FetchPageFault), mepc: far, mtval: far });
  });

  it('a page-table walk outside RAM is an access fault of the original access type', () => {
    const { m, pt } = paged([e.nop(), e.sd(R.a2, R.a1, 0)], PTE.R | PTE.W);
    // Point the data page's level-1 table at device space.
    pt.setPte(VA_DATA, (BigInt(0x1000_0000 / 4096) << 10n) | 1n, 1);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.StoreAccess), mepc: VA_CODE + 4n, mtval: VA_DATA });
  });

  it('SFENCE.VMA: a changed PTE is used after a flush by address, and after a global flush', () => {
    // ld, (handler-free) change the PTE via the debugger between runs, then sfence + ld.
    const { m, pt } = paged(
      [e.ld(R.a2, R.a1, 0), e.wfi(), e.sfenceVma(R.a1, 0), e.ld(R.a3, R.a1, 0), e.wfi(), e.sfenceVma(), e.ld(R.a4, R.a1, 0), e.ecall()],
      PTE.R | PTE.A,
    );
    writeU64(m, DATA, 1n);
    writeU64(m, DATA + 0x1000, 2n);
    writeU64(m, DATA + 0x2000, 3n);
    expect(m.run().kind).toBe('wfi');
    pt.map(VA_DATA, DATA + 0x1000, PTE.R | PTE.A);
    expect(m.run().kind).toBe('wfi');
    pt.map(VA_DATA, DATA + 0x2000, PTE.R | PTE.A);
    m.run();
    expect([m.x(R.a2), m.x(R.a3), m.x(R.a4)]).toEqual([1n, 2n, 3n]);
  });

  it('a satp write flushes: the same VA then maps through the new tables', () => {
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.csrw(Csr.satp, R.t0), e.ld(R.a3, R.a1, 0), e.ecall()], PTE.R | PTE.A);
    const pt2 = new PageTables(m.ram, PT_BASE + 0x10000, 3);
    pt2.map(VA_CODE, CODE, PTE.R | PTE.X | PTE.A);
    pt2.map(VA_DATA, DATA + 0x1000, PTE.R | PTE.A);
    m.hart.setReg(R.t0, pt2.satp(5));
    writeU64(m, DATA, 1n);
    writeU64(m, DATA + 0x1000, 2n);
    m.run();
    expect([m.x(R.a2), m.x(R.a3)]).toEqual([1n, 2n]);
    expect(pt.pte(VA_DATA) & BigInt(PTE.A)).toBe(BigInt(PTE.A));
  });

  it('a misaligned load across two pages mapped to distant frames reads both; a fault in the second reports its first byte', () => {
    const { m, pt } = paged([e.ld(R.a2, R.a1, -4), e.ld(R.a3, R.a4, -4), e.ecall()], PTE.R);
    pt.map(VA_DATA - 0x1000n, DATA + 0x5000, PTE.R);
    m.ram.writeBytes(DATA + 0x5ffc, Uint8Array.of(1, 2, 3, 4));
    m.ram.writeBytes(DATA, Uint8Array.of(5, 6, 7, 8));
    m.hart.setReg(R.a4, VA_DATA + 0x2000n); // VA_DATA + 0x1000 is unmapped
    pt.map(VA_DATA + 0x1000n, DATA + 0x6000, PTE.R);
    m.run();
    expect(u64(m.x(R.a2))).toBe(0x0807060504030201n);
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: VA_CODE + 4n, mtval: VA_DATA + 0x2000n });
  });

  it('a store through one VA invalidates code decoded through another VA of the same frame', () => {
    const alias = 0xffff_ffc0_0010_0000n;
    const code = [e.auipc(R.t1, 0), e.jalr(R.ra, R.a1, 0), e.sw(R.t2, R.a4, 0), e.fenceI(), e.jalr(R.ra, R.a1, 0), e.ecall()];
    const { m, pt } = paged(code, PTE.R | PTE.X);
    // The routine at VA_DATA (frame DATA): addi a0, zero, 1; ret. Writable alias at `alias`.
    m.ram.writeWords(DATA, [e.addi(R.a0, 0, 1), e.ret()]);
    pt.map(alias, DATA, PTE.R | PTE.W);
    m.hart.setReg(R.a4, alias);
    m.hart.setReg(R.t2, BigInt(e.addi(R.a0, R.a0, 10)));
    m.run();
    expect(m.x(R.a0)).toBe(11n);
    expect(mTrap(m).mcause).toBe(BigInt(Cause.EcallS));
  });

  it('a page fault delegated to S reports scause/stval there', () => {
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0)], 0);
    m.ram.writeWords(S_HANDLER, S_HANDLER_CODE);
    pt.map(BigInt(S_HANDLER), S_HANDLER, PTE.R | PTE.X);
    m.hart.writeCsr(Csr.stvec, BigInt(S_HANDLER));
    m.hart.writeCsr(Csr.medeleg, 1n << BigInt(Cause.LoadPageFault));
    expect(m.run().kind).toBe('wfi');
    expect(sTrap(m)).toEqual({ scause: BigInt(Cause.LoadPageFault), sepc: VA_CODE, stval: VA_DATA });
    expect(m.hart.getPrivilege()).toBe(PRIV_S);
  });
});

describe('MPRV', () => {
  it('M-mode loads and stores translate as MPP when MPRV is set; fetches do not', () => {
    // mret from M to M (MPP = M) keeps MPRV and sets MPP = U; the program makes it S.
    const code = [e.csrs(Csr.mstatus, R.t1), e.ld(R.a2, R.a1, 0), e.csrc(Csr.mstatus, R.t0), e.ld(R.a3, R.a5, 0), e.wfi()];
    const m = privMachine(PRIV_M, BigInt(CODE), code, CODE);
    const pt = new PageTables(m.ram, PT_BASE, 3);
    pt.map(VA_DATA, DATA, PTE.R);
    m.hart.writeCsr(Csr.satp, pt.satp());
    m.hart.writeCsr(Csr.mstatus, (3n << 11n) | MPRV);
    m.hart.setReg(R.a1, VA_DATA);
    m.hart.setReg(R.t1, 1n << 11n);
    m.hart.setReg(R.t0, MPRV);
    m.hart.setReg(R.a5, BigInt(DATA));
    writeU64(m, DATA, 17n);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a2)).toBe(17n); // VA_DATA via the page tables
    expect(m.x(R.a3)).toBe(17n); // DATA physically, MPRV off
    expect(m.hart.getPrivilege()).toBe(PRIV_M);
  });

  it('MPRV with MPP = U: an S page faults, with the fault taken in M', () => {
    const m = privMachine(PRIV_M, BigInt(CODE), [e.ld(R.a2, R.a1, 0), e.wfi()], CODE);
    const pt = new PageTables(m.ram, PT_BASE, 3);
    pt.map(VA_DATA, DATA, PTE.R);
    m.hart.writeCsr(Csr.satp, pt.satp());
    m.hart.writeCsr(Csr.mstatus, (3n << 11n) | MPRV);
    m.hart.setReg(R.a1, VA_DATA);
    m.run(); // after mret MPP = U
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: BigInt(CODE), mtval: VA_DATA });
    expect(m.hart.getPc()).toBe(M_PARKED);
  });
});

describe('Sv48', () => {
  it('walks four levels, at kernel-half and user-half VAs beyond Sv39 reach', () => {
    const hi = 0xffff_8000_0000_2000n; // canonical for Sv48 only
    const lo = 0x0000_7fff_ffff_f000n;
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.ld(R.a3, R.a4, 8), e.ecall()], 0, { levels: 4 });
    pt.map(hi, DATA, PTE.R);
    pt.map(lo, DATA + 0x1000, PTE.R);
    writeU64(m, DATA, 4n);
    writeU64(m, DATA + 0x1008, 8n);
    m.hart.setReg(R.a1, hi);
    m.hart.setReg(R.a4, lo);
    m.run();
    expect([m.x(R.a2), m.x(R.a3)]).toEqual([4n, 8n]);
    expect(m.csr(Csr.satp) >> 60n).toBe(9n);
  });

  it('a 512 GiB-aligned terapage translates; bit 47 not copied above is a page fault', () => {
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.ld(R.a3, R.a4, 0)], 0, { levels: 4 });
    pt.map(0x0000_0080_0000_0000n, 0, PTE.R, 3); // 512 GiB page at PA 0
    writeU64(m, DATA, 6n);
    m.hart.setReg(R.a1, 0x0000_0080_0000_0000n + BigInt(DATA));
    m.hart.setReg(R.a4, 0x0000_8000_0000_0000n);
    m.run();
    expect(m.x(R.a2)).toBe(6n);
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: VA_CODE + 4n, mtval: 0x0000_8000_0000_0000n });
  });
});

describe('the TLB', () => {
  it('is indexed as the executor inlines it', () => {
    expect(TLB_INDEX_MASK).toBe(510);
  });

  it('a tight loop under Sv39 walks once per page, not per access', () => {
    // 200 loads and stores to one page.
    const { m } = paged(
      [e.addi(R.t0, 0, 200), e.ld(R.a2, R.a1, 0), e.sd(R.a2, R.a1, 8), e.addi(R.t0, R.t0, -1), e.bne(R.t0, 0, -12), e.ecall()],
      PTE.R | PTE.W,
    );
    m.run();
    expect(mTrap(m).mcause).toBe(BigInt(Cause.EcallS));
    expect(m.hart.stats.walks).toBeLessThan(10);
  });

  it('U and S contexts are separate: a page U may use is not reused for S without SUM', () => {
    // U loads the U page (cached for U), ecalls into S (delegated); S loads it: fault.
    const { m, pt } = paged([e.ld(R.a2, R.a1, 0), e.ecall()], PTE.R | PTE.U, { mode: PRIV_U });
    m.ram.writeWords(S_HANDLER, [e.ld(R.a3, R.a1, 0), ...S_HANDLER_CODE]);
    pt.map(BigInt(S_HANDLER), S_HANDLER, PTE.R | PTE.X);
    m.hart.writeCsr(Csr.stvec, BigInt(S_HANDLER));
    m.hart.writeCsr(Csr.medeleg, 1n << BigInt(Cause.EcallU));
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadPageFault), mepc: BigInt(S_HANDLER), mtval: VA_DATA });
  });
});
