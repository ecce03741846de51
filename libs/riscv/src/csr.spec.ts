// Zicsr instructions and the M-mode CSRs (privileged spec 1.12, 2 and 3.1).

import { describe, expect, it } from 'vitest';
import { Csr, MISA_HI, MISA_LO } from './csr.js';
import { Cause } from './trap.js';
import { DRAM, e, exec, HANDLER, machine, R, trapInfo } from './harness.test-util.js';

/** Runs one CSR instruction and returns the machine (which trapped or reached WFI). */
function one(inst: number, regs: Record<number, bigint> = {}) {
  const m = machine([inst, e.wfi()], { regs });
  expect(m.run().kind).toBe('wfi');
  return m;
}
/** misa as the guest reads it. */
const MISA = (BigInt(MISA_HI >>> 0) << 32n) | BigInt(MISA_LO >>> 0);

function illegal(inst: number): boolean {
  const m = one(inst);
  const t = trapInfo(m);
  if (t.pc !== HANDLER + 4) return false;
  expect(t.mcause).toBe(BigInt(Cause.IllegalInstruction));
  expect(t.mtval).toBe(BigInt(inst >>> 0));
  expect(t.mepc).toBe(BigInt(DRAM));
  return true;
}

describe('machine information registers', () => {
  it('misa says RV64 with I, S and U; the IDs are 0; mhartid is the hart id', () => {
    const m = exec(
      [
        e.csrr(R.a0, Csr.misa),
        e.csrr(R.a1, Csr.mvendorid),
        e.csrr(R.a2, Csr.marchid),
        e.csrr(R.a3, Csr.mimpid),
        e.csrr(R.a4, Csr.mhartid),
        e.csrr(R.a5, Csr.mconfigptr),
      ],
      { hartId: 3, regs: { [R.a1]: 9n, [R.a2]: 9n, [R.a3]: 9n, [R.a5]: 9n } },
    );
    expect(m.ux(R.a0)).toBe(MISA);
    expect(MISA >> 62n).toBe(2n);
    for (const letter of 'ISU') expect((MISA >> BigInt(letter.charCodeAt(0) - 65)) & 1n).toBe(1n);
    expect([m.x(R.a1), m.x(R.a2), m.x(R.a3), m.x(R.a5)]).toEqual([0n, 0n, 0n, 0n]);
    expect(m.x(R.a4)).toBe(3n);
  });

  it('misa is WARL and fixed: writes are ignored', () => {
    const m = exec([e.csrw(Csr.misa, R.t0), e.csrr(R.a0, Csr.misa)], { regs: { [R.t0]: 0n } });
    expect(m.ux(R.a0)).toBe(MISA);
  });
});

describe('access rules', () => {
  it('writing a read-only CSR is illegal, even with rd = x0', () => {
    expect(illegal(e.csrrw(0, Csr.mhartid, R.t0))).toBe(true);
    expect(illegal(e.csrrw(R.a0, Csr.mvendorid, 0))).toBe(true); // csrrw always writes
    expect(illegal(e.csrrs(R.a0, Csr.mhartid, R.t0))).toBe(true); // rs1 != x0 writes
    expect(illegal(e.csrrci(R.a0, Csr.cycle, 1))).toBe(true);
    expect(illegal(e.csrrwi(R.a0, Csr.instret, 0))).toBe(true);
  });

  it('reading a read-only CSR with csrrs/csrrc x0 or a zero uimm is fine', () => {
    for (const inst of [e.csrrs(R.a0, Csr.mhartid, 0), e.csrrc(R.a0, Csr.mhartid, 0), e.csrrsi(R.a0, Csr.mhartid, 0), e.csrrci(R.a0, Csr.mhartid, 0)]) {
      const m = one(inst);
      expect(m.hart.getPc()).toBe(DRAM + 8);
      expect(m.hart.stats.exceptions).toBe(0);
    }
  });

  it.each([
    ['mstatush (RV32 only)', 0x310],
    ['menvcfgh (RV32 only)', 0x31a],
    ['time (no clock given)', Csr.time],
    ['stimecmp (no clock given)', Csr.stimecmp],
    ['cycleh (RV32 only)', 0xc80],
    ['pmpcfg1 (odd pmpcfg: RV32 only)', 0x3a1],
    ['pmpcfg4 (QEMU 7.2: 16 entries, no CSR beyond)', 0x3a4],
    ['pmpaddr16 (QEMU 7.2: 16 entries, no CSR beyond)', 0x3c0],
    ['mseccfg (no Smepmp)', 0x747],
    ['seed (no Zkr)', Csr.seed],
    ['hstatus (no H)', 0x600],
    ['tselect', 0x7a0],
    ['fcsr (no F)', 0x003],
    ['an unassigned number', 0x7ff],
  ])('%s is illegal with mtval = the instruction', (_n, csr) => {
    expect(illegal(e.csrr(R.a0, csr))).toBe(true);
    expect(illegal(e.csrw(csr, R.t0))).toBe(true); // rd = x0 does not skip the check
    expect(illegal(e.csrrci(R.a0, csr, 0))).toBe(true);
  });
});

describe('read-modify-write semantics', () => {
  it('CSRRW swaps, also when rd = rs1', () => {
    const m = exec([e.csrrw(0, Csr.mscratch, R.t0), e.csrrw(R.t1, Csr.mscratch, R.t1), e.csrrw(R.a0, Csr.mscratch, 0)], {
      regs: { [R.t0]: 0x1111_2222_3333_4444n, [R.t1]: -5n },
    });
    expect(m.x(R.t1)).toBe(0x1111_2222_3333_4444n);
    expect(m.x(R.a0)).toBe(-5n);
    expect(m.csr(Csr.mscratch)).toBe(0n);
  });

  it('CSRRS sets and CSRRC clears bits, both returning the old value', () => {
    const m = exec([e.csrw(Csr.mscratch, R.t0), e.csrrs(R.a0, Csr.mscratch, R.t1), e.csrrc(R.a1, Csr.mscratch, R.t2), e.csrr(R.a2, Csr.mscratch)], {
      regs: { [R.t0]: 0xf0n, [R.t1]: 0x1_0000_000fn, [R.t2]: 0xf1n },
    });
    expect(m.x(R.a0)).toBe(0xf0n);
    expect(m.x(R.a1)).toBe(0x1_0000_00ffn);
    expect(m.x(R.a2)).toBe(0x1_0000_000en);
  });

  it('immediate forms use a zero-extended 5-bit uimm', () => {
    const m = exec([e.csrrwi(R.a0, Csr.mscratch, 31), e.csrrsi(R.a1, Csr.mscratch, 0), e.csrrci(R.a2, Csr.mscratch, 0x11), e.csrr(R.a3, Csr.mscratch)], {
      regs: { [R.a0]: 1n },
    });
    expect(m.x(R.a0)).toBe(0n);
    expect(m.x(R.a1)).toBe(31n);
    expect(m.x(R.a2)).toBe(31n);
    expect(m.x(R.a3)).toBe(0x0en);
  });
});

describe('WARL fields', () => {
  it('mstatus: every field of M/S/U is writable; UXL = SXL = 2, endianness and XS/VS read 0; SD follows FS', () => {
    const m = exec([e.csrw(Csr.mstatus, R.t0), e.csrr(R.a0, Csr.mstatus), e.csrw(Csr.mstatus, 0), e.csrr(R.a1, Csr.mstatus)], {
      regs: { [R.t0]: -1n },
    });
    // SD | SXL=2 UXL=2 | TSR TW TVM MXR SUM MPRV | FS=3 | MPP=3 SPP MPIE SPIE MIE SIE
    expect(m.ux(R.a0)).toBe(0x8000_000a_007e_79aan);
    expect(m.ux(R.a1)).toBe(0xa_0000_0000n); // MPP = 0 (U) is supported
  });

  it('mstatus.MPP = 2 (reserved) leaves MPP as it was', () => {
    const m = exec([e.csrw(Csr.mstatus, R.t0), e.csrr(R.a0, Csr.mstatus)], { regs: { [R.t0]: 0x1000n } });
    expect(m.ux(R.a0) & 0x1800n).toBe(0x1800n);
  });

  it('mtvec takes direct and vectored modes; a reserved mode leaves it unchanged', () => {
    const m = exec(
      [e.csrw(Csr.mtvec, R.t0), e.csrr(R.a0, Csr.mtvec), e.csrw(Csr.mtvec, R.t1), e.csrr(R.a1, Csr.mtvec), e.csrw(Csr.mtvec, R.t2), e.csrr(R.a2, Csr.mtvec)],
      { regs: { [R.t0]: BigInt(DRAM + 0x101), [R.t1]: BigInt(DRAM + 0x202), [R.t2]: BigInt(HANDLER) } },
    );
    expect(m.ux(R.a0)).toBe(BigInt(DRAM + 0x101));
    expect(m.ux(R.a1)).toBe(BigInt(DRAM + 0x101));
    expect(m.ux(R.a2)).toBe(BigInt(HANDLER));
  });

  it('mepc drops bit 0 (IALIGN = 16 with C); mcause and mtval hold 64 bits', () => {
    const m = exec(
      [e.csrw(Csr.mepc, R.t0), e.csrr(R.a0, Csr.mepc), e.csrw(Csr.mcause, R.t1), e.csrr(R.a1, Csr.mcause), e.csrw(Csr.mtval, R.t1), e.csrr(R.a2, Csr.mtval)],
      { regs: { [R.t0]: 0x8000_0003n, [R.t1]: -0x1234_5678_9abcn } },
    );
    expect(m.ux(R.a0)).toBe(0x8000_0002n);
    expect(m.x(R.a1)).toBe(-0x1234_5678_9abcn);
    expect(m.x(R.a2)).toBe(-0x1234_5678_9abcn);
  });

  it('mie holds the six interrupt enables; mip takes only SSIP/STIP/SEIP (the rest come from the platform)', () => {
    const m = machine([e.csrw(Csr.mie, R.t0), e.csrr(R.a0, Csr.mie), e.csrw(Csr.mip, R.t0), e.csrr(R.a1, Csr.mip), e.wfi()], { regs: { [R.t0]: -1n } });
    expect(m.run().kind).toBe('budget'); // pending and enabled: the WFI does not idle
    expect(m.ux(R.a0)).toBe(0xaaan);
    expect(m.ux(R.a1)).toBe(0x222n);
  });

  it('the performance monitor is present and reads zero; its M-mode registers ignore writes', () => {
    const m = exec(
      [
        e.csrw(Csr.mhpmcounter3, R.t0),
        e.csrw(Csr.mhpmevent31, R.t0),
        e.csrr(R.a0, Csr.mhpmcounter3),
        e.csrr(R.a1, Csr.mhpmevent31),
        e.csrr(R.a2, Csr.hpmcounter31),
      ],
      { regs: { [R.t0]: -1n, [R.a0]: 1n, [R.a1]: 1n, [R.a2]: 1n } },
    );
    expect([m.x(R.a0), m.x(R.a1), m.x(R.a2)]).toEqual([0n, 0n, 0n]);
    expect(m.hart.stats.exceptions).toBe(0);
  });
});

describe('counters', () => {
  it('minstret/instret read the instructions retired before the reading one', () => {
    const m = exec([e.nop(), e.nop(), e.csrr(R.a0, Csr.minstret), e.csrr(R.a1, Csr.instret), e.csrr(R.a2, Csr.mcycle), e.csrr(R.a3, Csr.cycle)]);
    expect([m.x(R.a0), m.x(R.a1), m.x(R.a2), m.x(R.a3)]).toEqual([2n, 3n, 4n, 5n]);
  });

  it('a written counter reads the written value at the next instruction, then counts on', () => {
    const m = exec(
      [e.csrw(Csr.minstret, R.t0), e.csrr(R.a0, Csr.minstret), e.nop(), e.csrr(R.a1, Csr.minstret), e.csrw(Csr.mcycle, R.t1), e.csrr(R.a2, Csr.cycle)],
      {
        regs: { [R.t0]: 1000n, [R.t1]: 77n },
      },
    );
    expect(m.x(R.a0)).toBe(1000n);
    expect(m.x(R.a1)).toBe(1002n);
    expect(m.x(R.a2)).toBe(77n);
  });

  it('counters carry into the high word and wrap at 2^64', () => {
    const m = exec(
      [e.csrw(Csr.minstret, R.t0), e.nop(), e.csrr(R.a0, Csr.minstret), e.csrw(Csr.mcycle, R.t1), e.csrr(R.a1, Csr.mcycle), e.csrr(R.a2, Csr.mcycle)],
      {
        regs: { [R.t0]: 0xffff_ffffn, [R.t1]: -1n },
      },
    );
    expect(m.x(R.a0)).toBe(0x1_0000_0000n);
    expect(m.x(R.a1)).toBe(-1n);
    expect(m.x(R.a2)).toBe(0n);
  });

  it('an instruction that traps costs a cycle but does not retire', () => {
    // ecall -> handler: csrr mcycle, csrr minstret, wfi
    const m = machine([e.ecall()]);
    m.ram.writeWords(HANDLER, [e.csrr(R.a0, Csr.mcycle), e.csrr(R.a1, Csr.minstret), e.wfi()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(1n);
    expect(m.x(R.a1)).toBe(1n); // the csrr before it, not the ecall
    expect(m.hart.stats).toMatchObject({ instret: 3, cycles: 4, exceptions: 1, traps: 1 });
  });

  it('debugger writes through the Hart API read back as written', () => {
    const m = machine([e.nop()]);
    m.hart.writeCsr(Csr.minstret, 500n);
    m.hart.writeCsr(Csr.mcycle, 7n);
    expect(m.hart.readCsr(Csr.minstret)).toBe(500n);
    expect(m.hart.readCsr(Csr.mcycle)).toBe(7n);
    expect(m.hart.readCsr(0x7a0)).toBeUndefined();
    expect(m.hart.writeCsr(0x7a0, 1n)).toBe(false);
  });
});
