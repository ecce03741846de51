// M, S and U modes (privileged spec 1.12): mode switches, delegation, S-mode traps,
// interrupts with their enables and priorities, and the CSR access rules that depend on
// the mode (counters, TVM/TW/TSR, Sstc).

import { describe, expect, it } from 'vitest';
import { Csr } from './csr.js';
import { Cause, Irq } from './trap.js';
import { e, R } from './harness.test-util.js';
import { CODE, M_PARKED, PRIV_M, PRIV_S, PRIV_U, S_HANDLER, S_HANDLER_CODE, S_PARKED, mTrap, privMachine, sTrap } from './mmu/paging.test-util.js';

const INTERRUPT = 1n << 63n;
const SSTATUS_SIE = 1n << 1n;
const SSTATUS_SPIE = 1n << 5n;
const SSTATUS_SPP = 1n << 8n;
const MSTATUS_MIE = 1n << 3n;
const MSTATUS_MPRV = 1n << 17n;
const MSTATUS_TVM = 1n << 20n;
const MSTATUS_TW = 1n << 21n;
const MSTATUS_TSR = 1n << 22n;

/** A U- or S-mode program at CODE (physical, satp = Bare), S handler a WFI at S_HANDLER. */
function run(mode: number, code: number[], setup: (m: ReturnType<typeof privMachine>) => void = () => {}) {
  const m = privMachine(mode, BigInt(CODE), code, CODE);
  m.ram.writeWords(S_HANDLER, S_HANDLER_CODE);
  m.hart.writeCsr(Csr.stvec, BigInt(S_HANDLER));
  setup(m);
  return m;
}

describe('mode switches', () => {
  it('MRET enters MPP; ECALL from S and U is cause 9 and 8, taken in M with MPP = the mode', () => {
    for (const [mode, cause] of [
      [PRIV_S, Cause.EcallS],
      [PRIV_U, Cause.EcallU],
    ]) {
      const m = run(mode!, [e.nop(), e.ecall()]);
      expect(m.run().kind).toBe('wfi');
      expect(m.hart.getPrivilege()).toBe(PRIV_M);
      expect(mTrap(m)).toEqual({ mcause: BigInt(cause!), mepc: BigInt(CODE + 4), mtval: 0n });
      expect((m.csr(Csr.mstatus) >> 11n) & 3n).toBe(BigInt(mode!));
    }
  });

  it('MRET sets MPP to U (least privileged) and clears MPRV when leaving M', () => {
    const m = run(PRIV_S, [e.ecall()], (m) => m.hart.writeCsr(Csr.mstatus, (1n << 11n) | MSTATUS_MPRV));
    m.run();
    // After the mret (before the ecall): MPP was set to U, MPRV cleared; the ecall then
    // wrote MPP = S again. MPRV stays clear.
    expect(m.csr(Csr.mstatus) & MSTATUS_MPRV).toBe(0n);
  });

  it('MRET to M keeps MPRV', () => {
    const m = run(PRIV_M, [e.csrr(R.a0, Csr.mstatus), e.wfi()], (m) => m.hart.writeCsr(Csr.mstatus, (3n << 11n) | MSTATUS_MPRV));
    expect(m.run().kind).toBe('wfi');
    expect(m.ux(R.a0) & MSTATUS_MPRV).toBe(MSTATUS_MPRV);
  });

  it('an exception in M is never delegated, whatever medeleg says', () => {
    const m = run(PRIV_M, [0xffffffff], (m) => m.hart.writeCsr(Csr.medeleg, 0xffffn));
    m.run();
    expect(m.hart.getPc()).toBe(M_PARKED);
    expect(mTrap(m).mcause).toBe(BigInt(Cause.IllegalInstruction));
  });
});

describe('delegation to S-mode', () => {
  it('a delegated exception from U goes to stvec: scause, sepc, stval, SPP = U, SPIE = SIE, SIE = 0', () => {
    const m = run(PRIV_U, [e.nop(), 0xffffffff], (m) => {
      m.hart.writeCsr(Csr.medeleg, 1n << 2n);
      m.hart.writeCsr(Csr.mstatus, SSTATUS_SIE); // MPP = U, SIE = 1
    });
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getPrivilege()).toBe(PRIV_S);
    expect(m.hart.getPc()).toBe(S_PARKED);
    expect(sTrap(m)).toEqual({ scause: 2n, sepc: BigInt(CODE + 4), stval: 0xffffffffn });
    const st = m.csr(Csr.sstatus);
    expect([st & SSTATUS_SPP, st & SSTATUS_SPIE, st & SSTATUS_SIE]).toEqual([0n, SSTATUS_SPIE, 0n]);
    expect(m.csr(Csr.mcause)).toBe(0n); // M saw nothing
  });

  it('a delegated exception from S stays in S with SPP = S', () => {
    const m = run(PRIV_S, [e.ecall()], (m) => m.hart.writeCsr(Csr.medeleg, 1n << 9n));
    m.run();
    expect(sTrap(m)).toMatchObject({ scause: 9n, sepc: BigInt(CODE) });
    expect(m.csr(Csr.sstatus) & SSTATUS_SPP).toBe(SSTATUS_SPP);
  });

  it('medeleg takes bits 0-9, 12, 13, 15 (11 is read-only zero); mideleg the S-level interrupts', () => {
    const m = run(PRIV_M, [e.wfi()], (m) => {
      m.hart.writeCsr(Csr.medeleg, -1n);
      m.hart.writeCsr(Csr.mideleg, -1n);
    });
    expect(m.csr(Csr.medeleg)).toBe(0xb3ffn);
    expect(m.csr(Csr.mideleg)).toBe(0x222n);
  });

  it('SRET returns to SPP with SIE = SPIE, SPIE = 1, SPP = U', () => {
    // S handler: sepc += 4, sret. U program: ecall (delegated), then ecall (not delegated
    // any more: the handler clears medeleg... simpler: a second ecall reaches M).
    const m = run(PRIV_U, [e.ecall(), e.addi(R.a0, 0, 7), 0xffffffff]);
    m.ram.writeWords(S_HANDLER, [e.csrr(R.t0, Csr.sepc), e.addi(R.t0, R.t0, 4), e.csrw(Csr.sepc, R.t0), e.sret()]);
    m.hart.writeCsr(Csr.medeleg, 1n << 8n);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a0)).toBe(7n);
    expect(mTrap(m)).toMatchObject({ mcause: 2n, mepc: BigInt(CODE + 8) });
    expect((m.csr(Csr.mstatus) >> 11n) & 3n).toBe(0n); // the illegal came from U
    const st = m.csr(Csr.sstatus);
    expect([st & SSTATUS_SPP, st & SSTATUS_SPIE]).toEqual([0n, SSTATUS_SPIE]);
  });

  it('trap entry and xRET drop the LR reservation, so an SC across them fails', () => {
    // lr.d; ecall (S handler skips it and srets); sc.d must fail (rd = 1).
    const m = run(PRIV_U, [e.lrD(R.a2, R.a1), e.ecall(), e.scD(R.a3, R.a2, R.a1), e.lrD(R.a2, R.a1), e.scD(R.a4, R.a2, R.a1), e.ebreak()], (m) => {
      m.hart.writeCsr(Csr.medeleg, 1n << 8n);
      m.hart.setReg(R.a1, BigInt(CODE + 0x800));
    });
    m.ram.writeWords(S_HANDLER, [e.csrr(R.t0, Csr.sepc), e.addi(R.t0, R.t0, 4), e.csrw(Csr.sepc, R.t0), e.sret()]);
    m.run();
    expect(mTrap(m).mcause).toBe(BigInt(Cause.Breakpoint));
    expect([m.x(R.a3), m.x(R.a4)]).toEqual([1n, 0n]);
  });

  it('SRET in U is illegal, in S with TSR illegal, in M fine', () => {
    const u = run(PRIV_U, [e.sret()]);
    u.run();
    expect(mTrap(u)).toEqual({ mcause: 2n, mepc: BigInt(CODE), mtval: BigInt(e.sret()) });
    const s = run(PRIV_S, [e.sret()], (m) => m.hart.writeCsr(Csr.mstatus, (1n << 11n) | MSTATUS_TSR));
    s.run();
    expect(mTrap(s)).toEqual({ mcause: 2n, mepc: BigInt(CODE), mtval: BigInt(e.sret()) });
    const mm = run(PRIV_M, [e.sret()], (m) => {
      m.hart.writeCsr(Csr.mstatus, (3n << 11n) | SSTATUS_SPP);
      m.hart.writeCsr(Csr.sepc, BigInt(S_HANDLER));
    });
    expect(mm.run().kind).toBe('wfi');
    expect(mm.hart.getPrivilege()).toBe(PRIV_S);
  });

  it('vectored stvec sends interrupts to BASE + 4 * cause and exceptions to BASE', () => {
    const m = run(PRIV_U, [e.nop(), e.nop(), e.ecall()], (m) => {
      m.hart.writeCsr(Csr.stvec, BigInt(S_HANDLER) | 1n);
      m.hart.writeCsr(Csr.mideleg, 0x222n);
      m.hart.writeCsr(Csr.medeleg, 1n << 8n);
      m.hart.writeCsr(Csr.mie, 1n << BigInt(Irq.STI));
    });
    m.ram.writeWords(S_HANDLER + 4 * Irq.STI, [e.addi(R.a1, 0, 1), ...S_HANDLER_CODE]);
    m.hart.setPendingInterrupt(Irq.STI, true);
    expect(m.run().kind).toBe('wfi');
    expect(m.x(R.a1)).toBe(1n);
    expect(sTrap(m)).toMatchObject({ scause: INTERRUPT | BigInt(Irq.STI), sepc: BigInt(CODE) });

    const x = run(PRIV_U, [e.ecall()], (m) => {
      m.hart.writeCsr(Csr.stvec, BigInt(S_HANDLER) | 1n);
      m.hart.writeCsr(Csr.medeleg, 1n << 8n);
    });
    x.run();
    expect(x.hart.getPc()).toBe(S_PARKED);
  });
});

describe('interrupts', () => {
  function counting(mode: number, setup: (m: ReturnType<typeof privMachine>) => void) {
    // Counts in a0 forever; whoever takes the interrupt parks in WFI.
    return run(mode, [e.addi(R.a0, R.a0, 1), e.jal(0, -4)], setup);
  }

  it('M-level interrupts are taken in S and U even with MIE = 0, in M only with MIE', () => {
    for (const mode of [PRIV_U, PRIV_S]) {
      const m = counting(mode, (m) => m.hart.writeCsr(Csr.mie, 1n << BigInt(Irq.MTI)));
      m.hart.setPendingInterrupt(Irq.MTI, true);
      expect(m.run(100).kind).toBe('wfi');
      expect(mTrap(m).mcause).toBe(INTERRUPT | BigInt(Irq.MTI));
      expect(m.hart.getPrivilege()).toBe(PRIV_M);
    }
    const m = counting(PRIV_M, (m) => m.hart.writeCsr(Csr.mie, 1n << BigInt(Irq.MTI)));
    m.hart.setPendingInterrupt(Irq.MTI, true);
    expect(m.run(100).kind).toBe('budget');
  });

  it('delegated interrupts: always in U, in S only with SIE, never in M', () => {
    const setup = (sie: bigint, mode: number) => (m: ReturnType<typeof privMachine>) => {
      m.hart.writeCsr(Csr.mideleg, 1n << BigInt(Irq.SSI));
      m.hart.writeCsr(Csr.mie, 1n << BigInt(Irq.SSI));
      m.hart.writeCsr(Csr.mstatus, (BigInt(mode) << 11n) | sie | MSTATUS_MIE);
      m.hart.writeCsr(Csr.mip, 1n << BigInt(Irq.SSI));
    };
    const u = counting(PRIV_U, setup(0n, PRIV_U));
    expect(u.run(100).kind).toBe('wfi');
    expect(sTrap(u).scause).toBe(INTERRUPT | BigInt(Irq.SSI));
    expect(u.hart.getPrivilege()).toBe(PRIV_S);

    expect(counting(PRIV_S, setup(0n, PRIV_S)).run(100).kind).toBe('budget');
    const s = counting(PRIV_S, setup(SSTATUS_SIE, PRIV_S));
    expect(s.run(100).kind).toBe('wfi');
    expect(sTrap(s).scause).toBe(INTERRUPT | BigInt(Irq.SSI));

    expect(counting(PRIV_M, setup(SSTATUS_SIE, PRIV_M)).run(100).kind).toBe('budget');
  });

  it('priority: M-level before S-level, then MEI, MSI, MTI, SEI, SSI, STI', () => {
    const order = [Irq.MEI, Irq.MSI, Irq.MTI, Irq.SEI, Irq.SSI, Irq.STI];
    for (let i = 0; i < order.length; i++) {
      const m = counting(PRIV_U, (m) => m.hart.writeCsr(Csr.mie, 0xaaan));
      for (const irq of order.slice(i)) m.hart.setPendingInterrupt(irq, true);
      m.run(100);
      expect(mTrap(m).mcause).toBe(INTERRUPT | BigInt(order[i]!));
    }
    // A delegated MEI-priority interrupt loses to a lower non-delegated one.
    const m = counting(PRIV_U, (m) => {
      m.hart.writeCsr(Csr.mie, 0xaaan);
      m.hart.writeCsr(Csr.mideleg, 1n << BigInt(Irq.SEI));
    });
    m.hart.setPendingInterrupt(Irq.SEI, true);
    m.hart.setPendingInterrupt(Irq.STI, true);
    m.run(100);
    expect(mTrap(m).mcause).toBe(INTERRUPT | BigInt(Irq.STI));
  });

  it('sie and sip show only delegated bits; S may write SSIP (when delegated), not STIP', () => {
    const m = run(PRIV_S, [e.csrr(R.a0, Csr.sie), e.csrr(R.a1, Csr.sip), e.csrw(Csr.sip, R.t0), e.csrw(Csr.sie, R.t0), e.ecall()], (m) => {
      m.hart.writeCsr(Csr.mie, 0x222n);
      m.hart.writeCsr(Csr.mideleg, (1n << BigInt(Irq.SSI)) | (1n << BigInt(Irq.STI)));
      m.hart.setPendingInterrupt(Irq.MTI, true); // pending, not enabled
      m.hart.setReg(R.t0, -1n);
    });
    m.run(100);
    expect(m.ux(R.a0)).toBe(0x22n);
    expect(m.ux(R.a1)).toBe(0n); // MTIP is pending but not S-visible
    // SSIP went pending (and, delegated but SIE = 0 in S, waited); STIP did not.
    expect(mTrap(m).mcause).toBe(BigInt(Cause.EcallS));
    expect(m.csr(Csr.mip)).toBe((1n << BigInt(Irq.SSI)) | (1n << BigInt(Irq.MTI)));
  });

  it('mip: M may set SSIP/STIP/SEIP; SEIP reads as the OR of software and the PLIC line', () => {
    const m = run(PRIV_M, [e.wfi()]);
    m.hart.writeCsr(Csr.mip, -1n);
    expect(m.csr(Csr.mip)).toBe(0x222n);
    m.hart.writeCsr(Csr.mip, 0n);
    m.hart.setPendingInterrupt(Irq.SEI, true);
    expect(m.csr(Csr.mip)).toBe(0x200n);
    m.hart.writeCsr(Csr.mip, 0x200n);
    m.hart.setPendingInterrupt(Irq.SEI, false);
    expect(m.csr(Csr.mip)).toBe(0x200n); // the software half stays
  });

  it('WFI is illegal in U, and in S with TW; in S without TW it idles', () => {
    const u = run(PRIV_U, [e.wfi()]);
    u.run();
    expect(mTrap(u)).toEqual({ mcause: 2n, mepc: BigInt(CODE), mtval: BigInt(e.wfi()) });
    const tw = run(PRIV_S, [e.wfi()], (m) => m.hart.writeCsr(Csr.mstatus, (1n << 11n) | MSTATUS_TW));
    tw.run();
    expect(mTrap(tw).mcause).toBe(2n);
    const s = run(PRIV_S, [e.wfi(), e.addi(R.a0, 0, 1)]);
    expect(s.run().kind).toBe('wfi');
    expect(s.hart.getPc()).toBe(CODE + 4);
    expect(s.hart.getPrivilege()).toBe(PRIV_S);
  });

  it('WFI resumes after an interrupt that is enabled in mie though globally disabled', () => {
    const m = run(PRIV_S, [e.wfi(), e.addi(R.a0, 0, 5), e.ecall()], (m) => {
      m.hart.writeCsr(Csr.mideleg, 1n << BigInt(Irq.STI));
      m.hart.writeCsr(Csr.mie, 1n << BigInt(Irq.STI));
    });
    expect(m.run().kind).toBe('wfi');
    m.hart.setPendingInterrupt(Irq.STI, true); // SIE = 0 in S: not taken, but wakes the WFI
    expect(m.run().kind).toBe('wfi'); // ran on to the ecall, which M handles
    expect(m.x(R.a0)).toBe(5n);
    expect(mTrap(m).mcause).toBe(BigInt(Cause.EcallS));
  });
});

describe('CSR access by mode', () => {
  it('S cannot touch M CSRs and U cannot touch S CSRs: illegal, mtval = the instruction', () => {
    for (const [mode, csr] of [
      [PRIV_S, Csr.mstatus],
      [PRIV_S, Csr.mscratch],
      [PRIV_S, Csr.pmpaddr0],
      [PRIV_U, Csr.sstatus],
      [PRIV_U, Csr.satp],
    ] as const) {
      const inst = e.csrr(R.a0, csr);
      const m = run(mode, [inst]);
      m.run();
      expect(mTrap(m)).toEqual({ mcause: 2n, mepc: BigInt(CODE), mtval: BigInt(inst) });
    }
  });

  it('counters: below M each needs its mcounteren bit, and in U also its scounteren bit', () => {
    const read = [e.csrr(R.a0, Csr.cycle), e.csrr(R.a1, Csr.instret), e.csrr(R.a2, Csr.hpmcounter3), e.ecall()];
    const none = run(PRIV_S, read);
    none.run();
    expect(mTrap(none).mcause).toBe(2n);
    const s = run(PRIV_S, read, (m) => m.hart.writeCsr(Csr.mcounteren, 0xdn));
    s.run();
    expect(mTrap(s).mcause).toBe(BigInt(Cause.EcallS));
    const u = run(PRIV_U, read, (m) => m.hart.writeCsr(Csr.mcounteren, 0xdn));
    u.run();
    expect(mTrap(u)).toMatchObject({ mcause: 2n, mepc: BigInt(CODE) });
    const u2 = run(PRIV_U, read, (m) => {
      m.hart.writeCsr(Csr.mcounteren, 0xdn);
      m.hart.writeCsr(Csr.scounteren, 0x5n); // not hpmcounter3
    });
    u2.run();
    expect(mTrap(u2)).toMatchObject({ mcause: 2n, mepc: BigInt(CODE + 8) });
  });

  it('time reads the injected 10 MHz clock, gated by mcounteren.TM below M', () => {
    let now = 123_456_789_012;
    const m = run(PRIV_S, [e.csrr(R.a0, Csr.time), e.ecall()], (m) => {
      m.hart.setTimeSource(() => now);
      m.hart.writeCsr(Csr.mcounteren, 2n);
    });
    m.run();
    expect(m.x(R.a0)).toBe(123_456_789_012n);
    now = 0;
    expect(m.hart.readCsr(Csr.time)).toBe(0n);
  });

  it('satp: Bare, Sv39 and Sv48 are accepted, any other MODE leaves satp unchanged', () => {
    const m = run(PRIV_M, [e.wfi()]);
    for (const mode of [8n, 9n, 0n]) {
      m.hart.writeCsr(Csr.satp, (mode << 60n) | (0x1234n << 44n) | 0x80123n);
      expect(m.csr(Csr.satp)).toBe((mode << 60n) | (0x1234n << 44n) | 0x80123n);
    }
    for (const mode of [1n, 10n, 11n, 15n]) {
      m.hart.writeCsr(Csr.satp, (mode << 60n) | 5n);
      expect(m.csr(Csr.satp)).toBe((0x1234n << 44n) | 0x80123n);
    }
  });

  it('TVM: satp accesses and SFENCE.VMA in S are illegal; SFENCE.VMA in U always is', () => {
    for (const inst of [e.csrr(R.a0, Csr.satp), e.csrw(Csr.satp, 0), e.sfenceVma()]) {
      const m = run(PRIV_S, [inst], (m) => m.hart.writeCsr(Csr.mstatus, (1n << 11n) | MSTATUS_TVM));
      m.run();
      expect(mTrap(m)).toEqual({ mcause: 2n, mepc: BigInt(CODE), mtval: BigInt(inst) });
    }
    const ok = run(PRIV_S, [e.csrr(R.a0, Csr.satp), e.sfenceVma(), e.ecall()]);
    ok.run();
    expect(mTrap(ok).mcause).toBe(BigInt(Cause.EcallS));
    const u = run(PRIV_U, [e.sfenceVma(R.a0, R.a1)]);
    u.run();
    expect(mTrap(u)).toEqual({ mcause: 2n, mepc: BigInt(CODE), mtval: BigInt(e.sfenceVma(R.a0, R.a1)) });
  });

  it('sstatus is a view of mstatus: SIE, SPIE, SPP, FS, SUM, MXR, UXL, SD', () => {
    const m = run(PRIV_S, [e.csrw(Csr.sstatus, R.t0), e.csrr(R.a0, Csr.sstatus), e.ecall()], (m) => m.hart.setReg(R.t0, -1n));
    m.run();
    // SD | UXL = 2 | MXR SUM | FS = 3 | SPP SPIE SIE
    expect(m.ux(R.a0)).toBe(0x8000_0002_000c_6122n);
    // M-only fields untouched by the S write (MIE, MPIE, TVM...): only MPP changed, by the ecall.
    expect(m.csr(Csr.mstatus)).toBe(0x8000_000a_000c_6922n);
  });

  it('menvcfg keeps FIOM and STCE; senvcfg FIOM; menvcfgh does not exist on RV64', () => {
    const m = run(PRIV_M, [e.wfi()]);
    m.hart.writeCsr(Csr.menvcfg, -1n);
    m.hart.writeCsr(Csr.senvcfg, -1n);
    expect(m.csr(Csr.menvcfg)).toBe((1n << 63n) | 1n);
    expect(m.csr(Csr.senvcfg)).toBe(1n);
    expect(m.hart.readCsr(Csr.menvcfgh)).toBeUndefined();
  });

  it('mcountinhibit freezes mcycle and minstret; clearing it lets them count on', () => {
    const m = run(PRIV_M, [
      e.csrrwi(0, Csr.mcountinhibit, 5),
      e.csrr(R.a0, Csr.minstret),
      e.nop(),
      e.csrr(R.a1, Csr.minstret),
      e.csrrwi(0, Csr.mcountinhibit, 0),
      e.nop(),
      e.csrr(R.a2, Csr.minstret),
      e.wfi(),
    ]);
    m.run();
    expect(m.x(R.a1)).toBe(m.x(R.a0));
    expect(m.x(R.a2)).toBeGreaterThan(m.x(R.a1));
    expect(m.csr(Csr.mcountinhibit)).toBe(0n);
  });
});

describe('Sstc', () => {
  it('STIP follows time >= stimecmp while menvcfg.STCE is set, and mip.STIP is then read-only', () => {
    let now = 1000;
    const m = run(PRIV_M, [e.wfi()], (m) => m.hart.setTimeSource(() => now));
    m.hart.writeCsr(Csr.menvcfg, 1n << 63n);
    m.hart.writeCsr(Csr.stimecmp, 2000n);
    expect(m.csr(Csr.mip) & 0x20n).toBe(0n);
    expect(m.hart.timerDeadline()).toBe(2000);
    now = 2000;
    m.run(1); // the hart looks at the clock between batches
    expect(m.csr(Csr.mip) & 0x20n).toBe(0x20n);
    m.hart.writeCsr(Csr.mip, 0n);
    expect(m.csr(Csr.mip) & 0x20n).toBe(0x20n);
    m.hart.writeCsr(Csr.stimecmp, 5000n);
    expect(m.csr(Csr.mip) & 0x20n).toBe(0n);
  });

  it('takes the S timer interrupt in S-mode when delegated and enabled', () => {
    let now = 0;
    const m = run(PRIV_S, [e.addi(R.a0, R.a0, 1), e.jal(0, -4)], (m) => {
      m.hart.setTimeSource(() => now);
      m.hart.writeCsr(Csr.menvcfg, 1n << 63n);
      m.hart.writeCsr(Csr.stimecmp, 50n);
      m.hart.writeCsr(Csr.mideleg, 1n << BigInt(Irq.STI));
      m.hart.writeCsr(Csr.mie, 1n << BigInt(Irq.STI));
      m.hart.writeCsr(Csr.mstatus, (1n << 11n) | SSTATUS_SIE);
    });
    expect(m.run(100).kind).toBe('budget');
    now = 50;
    expect(m.run(100).kind).toBe('wfi');
    expect(sTrap(m).scause).toBe(INTERRUPT | BigInt(Irq.STI));
  });

  it('S-mode needs mcounteren.TM and menvcfg.STCE to touch stimecmp', () => {
    const inst = e.csrr(R.a0, Csr.stimecmp);
    for (const [tm, stce, ok] of [
      [0n, 1n, false],
      [2n, 0n, false],
      [2n, 1n, true],
    ] as const) {
      const m = run(PRIV_S, [inst, e.ecall()], (m) => {
        m.hart.setTimeSource(() => 0);
        m.hart.writeCsr(Csr.mcounteren, tm);
        m.hart.writeCsr(Csr.menvcfg, stce << 63n);
      });
      m.run();
      expect(mTrap(m).mcause).toBe(ok ? BigInt(Cause.EcallS) : 2n);
    }
  });
});
