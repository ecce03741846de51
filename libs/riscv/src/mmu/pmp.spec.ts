// Physical memory protection (privileged spec 1.12, 3.7): the CSRs' WARL rules, OFF/TOR/
// NA4/NAPOT matching, priority and partial matches, locking (which also binds M-mode),
// page-table reads checked as S-mode loads, and pages PMP splits (never cached whole).

import { describe, expect, it } from 'vitest';
import { Csr } from '../csr.js';
import { Cause } from '../trap.js';
import { e, R, type Machine } from '../harness.test-util.js';
import { CODE, DRAM, M_PARKED, PRIV_M, PRIV_S, PRIV_U, PT_BASE, PTE, PageTables, mTrap, privMachine } from './paging.test-util.js';

const R_ = 1;
const W_ = 2;
const X_ = 4;
const TOR = 1 << 3;
const NA4 = 2 << 3;
const NAPOT = 3 << 3;
const L = 0x80;
const DATA = DRAM + 0x20000;

/** pmpaddr for a NAPOT region of `size` bytes (a power of two >= 8) at `base`. */
function napot(base: number, size: number): bigint {
  return (BigInt(base) >> 2n) | BigInt(size / 8 - 1);
}

/** Sets entries from [cfg, addr] pairs (entry i = index), the rest OFF. */
function pmp(m: Machine, entries: [number, bigint][]): void {
  let cfg0 = 0n;
  let cfg2 = 0n;
  entries.forEach(([cfg, addr], i) => {
    m.hart.writeCsr(Csr.pmpaddr0 + i, addr);
    if (i < 8) cfg0 |= BigInt(cfg) << BigInt(8 * i);
    else cfg2 |= BigInt(cfg) << BigInt(8 * (i - 8));
  });
  m.hart.writeCsr(Csr.pmpcfg0, cfg0);
  m.hart.writeCsr(Csr.pmpcfg2, cfg2);
}

/** Code at CODE in `mode` (satp Bare), with PMP closed unless `entries` open it. */
function run(mode: number, code: number[], entries: [number, bigint][]): Machine {
  const m = privMachine(mode, BigInt(CODE), code, CODE, { noPmp: true });
  pmp(m, entries);
  m.hart.setReg(R.a1, BigInt(DATA));
  return m;
}

/** An entry allowing S/U to run the code page. */
const CODE_RX: [number, bigint] = [NAPOT | R_ | X_, napot(CODE, 0x1000)];

describe('PMP CSRs', () => {
  it('pmpcfg0/2 hold eight entries each; pmpaddr keeps 54 bits', () => {
    const m = run(PRIV_M, [e.wfi()], []);
    m.hart.writeCsr(Csr.pmpcfg0, 0x1f1d1c1b_19180f0bn);
    m.hart.writeCsr(Csr.pmpcfg2, 0x0f0d0c0b_09080701n);
    expect(m.csr(Csr.pmpcfg0)).toBe(0x1f1d1c1b_19180f0bn);
    expect(m.csr(Csr.pmpcfg2)).toBe(0x0f0d0c0b_09080701n);
    m.hart.writeCsr(Csr.pmpaddr15, -1n);
    expect(m.csr(Csr.pmpaddr15)).toBe((1n << 54n) - 1n);
  });

  it('a cfg byte with W but not R is reserved and ignored; bits 6:5 read zero', () => {
    const m = run(PRIV_M, [e.wfi()], []);
    m.hart.writeCsr(Csr.pmpcfg0, 0x01n);
    m.hart.writeCsr(Csr.pmpcfg0, 0x02n | (0x60n << 8n));
    expect(m.csr(Csr.pmpcfg0)).toBe(0x01n);
  });

  it('a locked entry ignores writes to its cfg and addr, and locks the base of a TOR above it', () => {
    const m = run(PRIV_M, [e.wfi()], []);
    m.hart.writeCsr(Csr.pmpaddr0, 0x100n);
    m.hart.writeCsr(Csr.pmpaddr0 + 1, 0x200n);
    m.hart.writeCsr(Csr.pmpcfg0, BigInt((L | TOR | R_) << 8));
    m.hart.writeCsr(Csr.pmpcfg0, 0n);
    m.hart.writeCsr(Csr.pmpaddr0, 0x999n);
    m.hart.writeCsr(Csr.pmpaddr0 + 1, 0x999n);
    expect(m.csr(Csr.pmpcfg0)).toBe(BigInt((L | TOR | R_) << 8));
    expect([m.csr(Csr.pmpaddr0), m.csr(Csr.pmpaddr0 + 1)]).toEqual([0x100n, 0x200n]);
  });

  it('are M-only, and only 16 entries exist', () => {
    const s = run(PRIV_S, [e.csrr(R.a0, Csr.pmpcfg0)], [CODE_RX]);
    s.run();
    expect(mTrap(s)).toMatchObject({ mcause: 2n, mepc: BigInt(CODE) });
    const m = run(PRIV_M, [e.wfi()], []);
    expect(m.hart.readCsr(Csr.pmpaddr15)).toBe(0n);
    expect(m.hart.readCsr(Csr.pmpaddr15 + 1)).toBeUndefined();
  });
});

describe('PMP checks', () => {
  it('with every entry OFF, S and U cannot even fetch; M is unaffected', () => {
    for (const mode of [PRIV_S, PRIV_U]) {
      const m = run(mode, [e.nop()], []);
      m.run();
      expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.FetchAccess), mepc: BigInt(CODE), mtval: BigInt(CODE) });
    }
    const m = run(PRIV_M, [e.ld(R.a2, R.a1, 0), e.sd(R.a2, R.a1, 0), e.wfi()], []);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.stats.exceptions).toBe(0);
  });

  it('NAPOT, NA4 and TOR grant exactly their R/W/X', () => {
    const probe = [e.ld(R.a2, R.a1, 0), e.sd(R.a2, R.a1, 0), e.ecall()];
    const cases: [string, [number, bigint], number][] = [
      ['NAPOT read-only page: the store faults', [NAPOT | R_, napot(DATA, 0x1000)], Cause.StoreAccess],
      ['NAPOT RW page', [NAPOT | R_ | W_, napot(DATA, 0x1000)], Cause.EcallS],
      ['NA4 covering only 4 of the 8 bytes: partial match fails', [NA4 | R_ | W_, BigInt(DATA) >> 2n], Cause.LoadAccess],
      ['TOR [CODE + 0x1000, DATA + 8) write-only... R=0 W=1 is ignored, so no access', [TOR | W_, BigInt(DATA + 8) >> 2n], Cause.LoadAccess],
    ];
    for (const [name, entry, cause] of cases) {
      const m = run(PRIV_S, probe, [CODE_RX, entry]);
      m.run();
      expect(mTrap(m).mcause, name).toBe(BigInt(cause));
    }
    // TOR from entry 0's address (CODE + 0x1000 would be a NAPOT encoding; use a TOR pair).
    const m = run(PRIV_S, probe, [[0, BigInt(DATA) >> 2n], [TOR | R_ | W_, BigInt(DATA + 16) >> 2n], CODE_RX]);
    m.run();
    expect(mTrap(m).mcause).toBe(BigInt(Cause.EcallS));
  });

  it('the lowest-numbered matching entry decides', () => {
    const m = run(PRIV_S, [e.ld(R.a2, R.a1, 0), e.ecall()], [CODE_RX, [NAPOT, napot(DATA, 0x1000)], [NAPOT | R_, napot(DRAM, 0x100000)]]);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadAccess), mepc: BigInt(CODE), mtval: BigInt(DATA) });
  });

  it('locked entries bind M-mode too; unlocked ones do not', () => {
    const unlocked = run(PRIV_M, [e.ld(R.a2, R.a1, 0), e.wfi()], [[NAPOT, napot(DATA, 0x1000)]]);
    expect(unlocked.run().kind).toBe('wfi');
    expect(unlocked.hart.getPc()).not.toBe(M_PARKED);
    const locked = run(PRIV_M, [e.ld(R.a2, R.a1, 0), e.sd(R.a2, R.a1, 0), e.wfi()], [[L | NAPOT | R_, napot(DATA, 0x1000)]]);
    locked.run();
    expect(mTrap(locked)).toEqual({ mcause: BigInt(Cause.StoreAccess), mepc: BigInt(CODE + 4), mtval: BigInt(DATA) });
    // A locked entry without X stops M fetching there.
    const fetch = run(PRIV_M, [e.nop(), e.wfi()], [[L | NAPOT | R_, napot(CODE, 0x1000)]]);
    fetch.run();
    expect(mTrap(fetch)).toMatchObject({ mcause: BigInt(Cause.FetchAccess), mepc: BigInt(CODE) });
  });

  it('a page split by PMP is checked per access, never cached whole', () => {
    // S may read only the first 8 bytes of DATA's page (NAPOT 8 bytes), repeatedly.
    const code = [e.addi(R.t0, 0, 3), e.ld(R.a2, R.a1, 0), e.addi(R.t0, R.t0, -1), e.bne(R.t0, 0, -8), e.ld(R.a3, R.a1, 8), e.ecall()];
    const m = run(PRIV_S, code, [CODE_RX, [NAPOT | R_, napot(DATA, 8)]]);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadAccess), mepc: BigInt(CODE + 16), mtval: BigInt(DATA + 8) });
  });

  it('page-table reads are S-mode loads: a table PMP hides is an access fault of the original kind', () => {
    const va = 0x4000_0000n;
    const m = privMachine(PRIV_S, BigInt(CODE), [e.sd(R.a2, R.a1, 0)], CODE, { noPmp: true });
    const pt = new PageTables(m.ram, PT_BASE, 3);
    pt.map(BigInt(CODE), CODE, PTE.R | PTE.X | PTE.A);
    pt.map(va, DATA, PTE.R | PTE.W | PTE.A | PTE.D);
    m.hart.writeCsr(Csr.satp, pt.satp());
    m.hart.setReg(R.a1, va);
    // Allow the code and data pages and the tables except the one holding va's leaf.
    const leaf = pt.pteAddr(va, 0);
    const leafTable = leaf - (leaf % 4096);
    pmp(m, [CODE_RX, [NAPOT | R_ | W_, napot(DATA, 0x1000)], [NAPOT, napot(leafTable, 0x1000)], [NAPOT | R_, napot(PT_BASE, 0x10000)]]);
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.StoreAccess), mepc: BigInt(CODE), mtval: va });
  });

  it('a write to a PMP CSR takes effect at once (the TLB is flushed)', () => {
    // S loads DATA (cached), M revokes read access between runs via a CSR write, S loads again.
    const m = run(PRIV_S, [e.ld(R.a2, R.a1, 0), e.wfi(), e.ld(R.a3, R.a1, 0), e.ecall()], [CODE_RX, [NAPOT | R_, napot(DATA, 0x1000)]]);
    expect(m.run().kind).toBe('wfi');
    m.hart.writeCsr(Csr.pmpcfg0, BigInt(CODE_RX[0]) | (BigInt(NAPOT) << 8n));
    m.run();
    expect(mTrap(m)).toEqual({ mcause: BigInt(Cause.LoadAccess), mepc: BigInt(CODE + 8), mtval: BigInt(DATA) });
  });
});
