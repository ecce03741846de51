// Exceptions, interrupts, MRET and WFI in M-mode (privileged spec 1.12, 3.1.6-3.1.20,
// 3.3), and the fatal exit for a trap that can only repeat itself.

import { describe, expect, it } from 'vitest';
import { Csr } from './csr.js';
import { Cause, Irq } from './trap.js';
import { DRAM, DATA, e, HANDLER, machine, R, trapInfo } from './harness.test-util.js';

const INTERRUPT = 1n << 63n;
/** mstatus.UXL = SXL = 2: the fixed 64-bit XLEN of U and S. */
const XL = 0xa_0000_0000n;

describe('synchronous exceptions', () => {
  it('ECALL from M-mode: cause 11, mepc = the ecall, mtval = 0, does not retire', () => {
    const m = machine([e.nop(), e.ecall(), e.wfi()]);
    m.hart.writeCsr(Csr.mtval, 0x55n);
    expect(m.run().kind).toBe('wfi');
    expect(trapInfo(m)).toEqual({ mcause: BigInt(Cause.EcallM), mepc: BigInt(DRAM + 4), mtval: 0n, pc: HANDLER + 4 });
    expect(m.hart.stats).toMatchObject({ instret: 2, exceptions: 1 }); // nop + handler's wfi
  });

  it('EBREAK: cause 3, mtval = its pc', () => {
    const m = machine([e.nop(), e.nop(), e.ebreak()]);
    m.run();
    expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.Breakpoint), mepc: BigInt(DRAM + 8), mtval: BigInt(DRAM + 8) });
  });

  it.each([0xffffffff, 0x00000000, 0x0400_0033 /* OP, funct7 = 2 */, 0x1050_0173 /* wfi, wrong rd */])(
    'illegal instruction 0x%s: cause 2, mtval = its bits zero-extended',
    (inst) => {
      const m = machine([inst]);
      m.run();
      expect(trapInfo(m)).toMatchObject({ mcause: BigInt(Cause.IllegalInstruction), mepc: BigInt(DRAM), mtval: BigInt(inst >>> 0) });
    },
  );

  it('trap entry moves MIE to MPIE, clears MIE and sets MPP = M', () => {
    const m = machine([e.csrrsi(0, Csr.mstatus, 8), e.ecall()]);
    m.run();
    expect(m.csr(Csr.mstatus)).toBe(XL | 0x1880n); // MPP = 3, MPIE = 1, MIE = 0
  });

  it('in vectored mode exceptions still go to BASE', () => {
    const m = machine([e.ecall()]);
    m.hart.writeCsr(Csr.mtvec, BigInt(HANDLER) | 1n);
    m.ram.writeWords(HANDLER + 4 * 11, [e.addi(R.a0, 0, 1), e.wfi()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPc()).toBe(HANDLER + 4);
    expect(m.x(R.a0)).toBe(0n);
  });
});

describe('MRET', () => {
  it('returns to mepc and restores MIE from MPIE, setting MPIE', () => {
    // Handler: skip the ecall (mepc += 4) and return. Main program enables MIE first.
    const m = machine([e.csrrsi(0, Csr.mstatus, 8), e.ecall(), e.addi(R.a0, 0, 1), e.csrr(R.a1, Csr.mstatus), e.wfi()]);
    m.ram.writeWords(HANDLER, [e.csrr(R.t0, Csr.mepc), e.addi(R.t0, R.t0, 4), e.csrw(Csr.mepc, R.t0), e.csrr(R.a2, Csr.mstatus), e.mret()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPc()).toBe(DRAM + 20);
    expect(m.x(R.a0)).toBe(1n);
    expect(m.ux(R.a2)).toBe(XL | 0x1880n); // in the handler: MIE = 0, MPIE = 1, MPP = M
    // After mret: MIE = 1, MPIE = 1, MPP = U (the least-privileged mode), back in M.
    expect(m.ux(R.a1)).toBe(XL | 0x0088n);
    expect(m.hart.getPrivilege()).toBe(3);
  });

  it('with MPIE = 0 leaves MIE off', () => {
    const m = machine([e.ecall(), e.csrr(R.a1, Csr.mstatus), e.wfi()]);
    m.ram.writeWords(HANDLER, [e.csrr(R.t0, Csr.mepc), e.addi(R.t0, R.t0, 4), e.csrw(Csr.mepc, R.t0), e.mret()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.ux(R.a1)).toBe(XL | 0x0080n);
  });

  it('a handler that returns keeps working: no false trap-loop alarm', () => {
    // 100 ecalls in a loop, each returned from.
    const m = machine([e.addi(R.s0, 0, 100), e.ecall(), e.addi(R.s0, R.s0, -1), e.bne(R.s0, 0, -8), e.wfi()]);
    m.ram.writeWords(HANDLER, [e.csrr(R.t0, Csr.mepc), e.addi(R.t0, R.t0, 4), e.csrw(Csr.mepc, R.t0), e.mret()]);
    expect(m.run(100_000).kind).toBe('wfi');
    expect(m.hart.stats.exceptions).toBe(100);
  });
});

describe('interrupts', () => {
  /** Main program: enable mie bits in t0, set mstatus.MIE, then count in a1 forever.
   *  Handler: a0 = mcause, mie = 0 (so the level-triggered line stops firing), wfi. */
  function irqMachine(mieBits: number, enableGlobal = true) {
    const m = machine(
      [
        e.csrw(Csr.mie, R.t0),
        enableGlobal ? e.csrrsi(0, Csr.mstatus, 8) : e.nop(),
        e.wfi(), // 8: park until the test raises a line
        e.addi(R.a1, R.a1, 1), // 12
        e.jal(0, -4),
      ],
      { regs: { [R.t0]: BigInt(mieBits) } },
    );
    m.ram.writeWords(HANDLER, [e.csrr(R.a0, Csr.mcause), e.csrw(Csr.mie, 0), e.wfi()]);
    return m;
  }

  it('a pending, enabled interrupt is taken before the next instruction', () => {
    const m = irqMachine(1 << Irq.MTI);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPc()).toBe(DRAM + 12);
    m.hart.setPendingInterrupt(Irq.MTI, true);
    expect(m.run().kind).toBe('wfi');
    expect(trapInfo(m)).toMatchObject({ mcause: INTERRUPT | 7n, mepc: BigInt(DRAM + 12), mtval: 0n, pc: HANDLER + 12 });
    expect(m.x(R.a0)).toBe(-(2n ** 63n) + 7n);
    expect(m.x(R.a1)).toBe(0n);
    expect(m.hart.stats.interrupts).toBe(1);
  });

  it('vectored mode sends interrupts to BASE + 4 * cause', () => {
    const m = irqMachine(1 << Irq.MSI);
    m.hart.writeCsr(Csr.mtvec, BigInt(HANDLER) | 1n);
    m.ram.writeWords(HANDLER + 4 * 3, [e.addi(R.a2, 0, 3), e.csrw(Csr.mie, 0), e.wfi()]);
    m.run();
    m.hart.setPendingInterrupt(Irq.MSI, true);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPc()).toBe(HANDLER + 4 * 3 + 12);
    expect(m.x(R.a2)).toBe(3n);
    expect(m.csr(Csr.mcause)).toBe(INTERRUPT | 3n);
  });

  it('is not taken with mstatus.MIE = 0, but WFI does not idle while it is pending in mie', () => {
    const m = irqMachine(1 << Irq.MEI, false);
    m.hart.setPendingInterrupt(Irq.MEI, true);
    expect(m.run(50).kind).toBe('budget');
    expect(m.hart.stats.interrupts).toBe(0);
    expect(m.x(R.a1)).toBeGreaterThan(10n);
    expect(m.csr(Csr.mip)).toBe(1n << 11n);
  });

  it('is not taken while masked in mie; WFI idles', () => {
    const m = irqMachine(1 << Irq.MTI);
    m.hart.setPendingInterrupt(Irq.MEI, true);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPc()).toBe(DRAM + 12);
    expect(m.hart.stats.interrupts).toBe(0);
  });

  it('external beats software beats timer', () => {
    const m = irqMachine((1 << Irq.MEI) | (1 << Irq.MSI) | (1 << Irq.MTI));
    m.run();
    m.hart.setPendingInterrupt(Irq.MTI, true);
    m.hart.setPendingInterrupt(Irq.MSI, true);
    m.hart.setPendingInterrupt(Irq.MEI, true);
    m.run();
    expect(m.x(R.a0)).toBe(-(2n ** 63n) + 11n);
  });

  it('lowering the line clears mip', () => {
    const m = irqMachine(0);
    m.hart.setPendingInterrupt(Irq.MTI, true);
    m.hart.setPendingInterrupt(Irq.MTI, false);
    expect(m.hart.getPendingInterrupts()).toBe(0);
  });

  it('a device raising a line from a bus callback interrupts right after that access', () => {
    const dev = 0x1000_0000;
    const m = machine([e.csrw(Csr.mie, R.t0), e.csrrsi(0, Csr.mstatus, 8), e.sw(0, R.t1, 0), e.addi(R.a1, 0, 1), e.wfi()], {
      regs: { [R.t0]: 1n << 11n, [R.t1]: BigInt(dev) },
    });
    m.ram.writeWords(HANDLER, [e.csrr(R.a0, Csr.mcause), e.csrw(Csr.mie, 0), e.wfi()]);
    m.bus.map(dev, 4);
    m.bus.onStore = () => m.hart.setPendingInterrupt(Irq.MEI, true);
    expect(m.run().kind).toBe('wfi');
    expect(m.csr(Csr.mepc)).toBe(BigInt(DRAM + 12)); // the addi after the store
    expect(m.x(R.a1)).toBe(0n);
    expect(m.x(R.a0)).toBe(-(2n ** 63n) + 11n);
  });
});

describe('WFI', () => {
  it('with nothing pending exits with pc past the WFI', () => {
    const m = machine([e.nop(), e.wfi(), e.addi(R.a0, 0, 1), e.wfi()]);
    expect(m.run()).toEqual({ kind: 'wfi' });
    expect(m.hart.getPc()).toBe(DRAM + 8);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(1n);
  });
});

describe('fatal trap loops', () => {
  it('mtvec unset (0, unmapped): the fetch fault at the handler repeats itself', () => {
    const m = machine([e.nop(), 0xffffffff], { handler: false });
    const exit = m.run(1000);
    expect(exit.kind).toBe('fatal');
    const reason = exit.kind === 'fatal' ? exit.reason : '';
    expect(reason).toContain('pc=0x0');
    expect(reason).toContain('cause 1');
    expect(reason).toContain('tval=0x0');
    expect(m.hart.stats.cycles).toBeLessThan(10);
    // It stays fatal.
    expect(m.run(10).kind).toBe('fatal');
  });

  it('a handler whose first instruction is illegal', () => {
    const m = machine([e.ecall()]);
    m.hart.writeCsr(Csr.mtvec, BigInt(DATA)); // zero-filled: illegal
    const exit = m.run(1000);
    expect(exit).toEqual({ kind: 'fatal', reason: expect.stringContaining(`pc=0x${DATA.toString(16)}`) });
    expect(exit.kind === 'fatal' && exit.reason).toContain('cause 2');
    expect(m.csr(Csr.mepc)).toBe(BigInt(DATA));
  });
});
