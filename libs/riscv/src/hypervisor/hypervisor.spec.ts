// The H extension's state, CSR views and traps (priv 1.12 ch. 8) on a hart built with
// `h: true`, and that a hart without it is unchanged.

import { describe, expect, it } from 'vitest';
import { Csr } from '../csr.js';
import { Cause, Irq } from '../trap.js';
import { DRAM, e, HANDLER, machine, R, type Machine } from '../harness.test-util.js';
import { HCsr } from './csr.js';

const INTERRUPT = 1n << 63n;
const MPV = 1n << 39n;
const MPP_S = 1n << 11n;
const GUEST = DRAM + 0x1000;
const HS_HANDLER = DRAM + 0x9000;
const VS_HANDLER = DRAM + 0xa000;

/** A hart with H that MRETs from M into VS (MPV = 1, MPP = S) at GUEST running `guest`;
 *  HS and VS handlers are lone WFIs. */
function inVs(guest: readonly number[], setup: (m: Machine) => void = () => {}, mpp = MPP_S): Machine {
  const m = hMachine([e.mret()]);
  m.ram.writeWords(GUEST, [...guest, e.wfi()]);
  m.ram.writeWords(HS_HANDLER, [e.wfi()]);
  m.ram.writeWords(VS_HANDLER, [e.wfi()]);
  m.hart.writeCsr(Csr.mstatus, MPV | mpp);
  m.hart.writeCsr(Csr.mepc, BigInt(GUEST));
  m.hart.writeCsr(Csr.stvec, BigInt(HS_HANDLER));
  m.hart.writeCsr(HCsr.vstvec, BigInt(VS_HANDLER));
  setup(m);
  return m;
}

/** A hart with H whose PMP lets every mode reach everything (no entry: only M may). */
function hMachine(program: readonly number[]): Machine {
  const m = machine(program, { h: true });
  m.hart.writeCsr(Csr.pmpaddr0, (1n << 54n) - 1n);
  m.hart.writeCsr(Csr.pmpcfg0, 0x1fn); // NAPOT, RWX
  return m;
}

describe('a hart without H', () => {
  it('has no misa.H, no hypervisor CSR, and mideleg resets to zero', () => {
    const m = machine([]);
    expect(m.csr(Csr.misa) & (1n << 7n)).toBe(0n);
    expect(m.hart.readCsr(HCsr.hstatus)).toBeUndefined();
    expect(m.hart.readCsr(HCsr.vsstatus)).toBeUndefined();
    expect(m.hart.readCsr(HCsr.mtval2)).toBeUndefined();
    expect(m.csr(Csr.mideleg)).toBe(0n);
    m.run();
    expect(m.hart.getVirt()).toBe(0);
  });

  it('executing a hypervisor CSR access is an illegal instruction', () => {
    const m = machine([e.csrr(R.a0, HCsr.hstatus)]);
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.IllegalInstruction));
  });
});

describe('H state and WARL rules', () => {
  it('misa.H is set; mideleg has VSSI, VSTI, VSEI and SGEI read-only one', () => {
    const m = machine([], { h: true });
    expect(m.csr(Csr.misa) & (1n << 7n)).toBe(1n << 7n);
    expect(m.csr(Csr.mideleg)).toBe(0x1444n);
    m.hart.writeCsr(Csr.mideleg, 0n);
    expect(m.csr(Csr.mideleg)).toBe(0x1444n);
    m.hart.writeCsr(Csr.mideleg, 0xffffn);
    expect(m.csr(Csr.mideleg)).toBe(0x1666n);
  });

  it('medeleg can delegate the VS ecall and the guest faults; hedeleg cannot', () => {
    const m = machine([], { h: true });
    m.hart.writeCsr(Csr.medeleg, 0xffff_ffffn);
    expect(m.csr(Csr.medeleg)).toBe(0xf0b7ffn);
    m.hart.writeCsr(HCsr.hedeleg, 0xffff_ffffn);
    expect(m.csr(HCsr.hedeleg)).toBe(0xb1ffn);
    m.hart.writeCsr(HCsr.hideleg, 0xffff_ffffn);
    expect(m.csr(HCsr.hideleg)).toBe(0x444n);
  });

  it('hstatus keeps its writable fields and VSXL = 2; hgeie/hgeip are zero (GEILEN = 0)', () => {
    const m = machine([], { h: true });
    m.hart.writeCsr(HCsr.hstatus, 0xffff_ffff_ffff_ffffn);
    expect(m.csr(HCsr.hstatus)).toBe(0x2_0070_03c0n);
    m.hart.writeCsr(HCsr.hgeie, 0xffffn);
    expect(m.csr(HCsr.hgeie)).toBe(0n);
    expect(m.csr(HCsr.hgeip)).toBe(0n);
  });

  it('hgatp: an unsupported mode is ignored, PPN bits 1:0 read zero, VMID is kept', () => {
    const m = machine([], { h: true });
    m.hart.writeCsr(HCsr.hgatp, (8n << 60n) | (0x3fffn << 44n) | 0x80007n);
    expect(m.csr(HCsr.hgatp)).toBe((8n << 60n) | (0x3fffn << 44n) | 0x80004n);
    m.hart.writeCsr(HCsr.hgatp, (1n << 60n) | 0x123n);
    expect(m.csr(HCsr.hgatp)).toBe((8n << 60n) | (0x3fffn << 44n) | 0x80004n);
  });

  it('mstatus holds MPV and GVA', () => {
    const m = machine([], { h: true });
    m.hart.writeCsr(Csr.mstatus, (3n << 38n) | MPP_S);
    expect(m.csr(Csr.mstatus) & (3n << 38n)).toBe(3n << 38n);
  });

  it('hvip drives the VS-level bits of mip/hip; hie is the VS-level part of mie', () => {
    const m = machine([], { h: true });
    m.hart.writeCsr(HCsr.hvip, 0xffffn);
    expect(m.csr(HCsr.hvip)).toBe(0x444n);
    expect(m.csr(Csr.mip)).toBe(0x444n);
    expect(m.csr(HCsr.hip)).toBe(0x444n);
    m.hart.writeCsr(HCsr.hie, 0xffffn);
    expect(m.csr(Csr.mie)).toBe(0x1444n);
    expect(m.csr(Csr.sie)).toBe(0n);
  });
});

describe('V=1: the swap rule', () => {
  it('S-CSR accesses in VS reach the VS registers, HS values stay apart', () => {
    const m = inVs([e.csrr(R.a0, Csr.sscratch), e.csrw(Csr.sscratch, R.a1), e.csrr(R.a2, Csr.stvec)], (m) => {
      m.hart.writeCsr(HCsr.vsscratch, 0x1111n);
      m.hart.writeCsr(Csr.sscratch, 0x2222n);
      m.hart.setReg(R.a1, 0x3333n);
    });
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getVirt()).toBe(1);
    expect(m.hart.getPrivilege()).toBe(1);
    expect(m.x(R.a0)).toBe(0x1111n);
    expect(m.x(R.a2)).toBe(BigInt(VS_HANDLER));
    // The debugger reads from M's view (V=0 for the CSR file's own routing is not the
    // case while the hart sits in VS: sscratch is VS's live register now).
    expect(m.csr(HCsr.vsscratch)).toBe(0x3333n);
  });

  it('sie/sip in VS are the VS-level bits shifted down, only where hideleg delegates', () => {
    const m = inVs([e.csrr(R.a0, Csr.sip), e.csrr(R.a1, Csr.sie), e.li(R.t0, 0x222)[0]!, e.csrw(Csr.sie, R.t0), e.csrr(R.a2, Csr.sie)], (m) => {
      m.hart.writeCsr(HCsr.hideleg, 0x44n); // VSSI and VSTI, not VSEI
      m.hart.writeCsr(HCsr.hvip, 0x444n);
    });
    m.run();
    expect(m.x(R.a0)).toBe(0x22n);
    expect(m.x(R.a1)).toBe(0n);
    expect(m.x(R.a2)).toBe(0x22n);
    expect(m.csr(Csr.mie)).toBe(0x44n);
  });
});

describe('V=1: traps and returns', () => {
  it('a hypervisor CSR in VS is a virtual instruction, taken in M with MPV and GVA = 0', () => {
    const inst = e.csrr(R.a0, HCsr.hstatus);
    const m = inVs([inst]);
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.VirtualInstruction));
    expect(m.csr(Csr.mtval)).toBe(BigInt(inst >>> 0));
    expect(m.csr(Csr.mepc)).toBe(BigInt(GUEST));
    const st = m.csr(Csr.mstatus);
    expect(st & MPV).toBe(MPV);
    expect((st >> 11n) & 3n).toBe(1n);
    expect(m.hart.getVirt()).toBe(0);
    expect(m.hart.getPc()).toBe(HANDLER + 4);
  });

  it('an M CSR in VS is illegal, not virtual', () => {
    const m = inVs([e.csrr(R.a0, Csr.mstatus)]);
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.IllegalInstruction));
  });

  it('ECALL from VS is cause 10; delegated by medeleg it enters HS with SPV = 1, SPVP = 1', () => {
    const m = inVs([e.nop(), e.ecall()], (m) => m.hart.writeCsr(Csr.medeleg, 1n << 10n));
    m.run();
    expect(m.hart.getVirt()).toBe(0);
    expect(m.hart.getPrivilege()).toBe(1);
    expect(m.csr(Csr.scause)).toBe(10n);
    expect(m.csr(Csr.sepc)).toBe(BigInt(GUEST + 4));
    expect(m.csr(HCsr.hstatus) & 0x1c0n).toBe(0x180n); // SPV, SPVP; GVA clear
    expect((m.csr(Csr.sstatus) >> 8n) & 1n).toBe(1n); // SPP = S
    expect(m.hart.getPc()).toBe(HS_HANDLER + 4);
  });

  it('ECALL from VU delegated by medeleg and hedeleg enters VS; vs* CSRs record it', () => {
    const m = inVs(
      [e.ecall()],
      (m) => {
        m.hart.writeCsr(Csr.medeleg, 1n << 8n);
        m.hart.writeCsr(HCsr.hedeleg, 1n << 8n);
      },
      0n,
    );
    m.run();
    expect(m.hart.getVirt()).toBe(1);
    expect(m.hart.getPrivilege()).toBe(1);
    expect(m.hart.getPc()).toBe(VS_HANDLER + 4);
    expect(m.csr(Csr.scause)).toBe(8n); // live S registers are VS's
    expect(m.csr(HCsr.vsepc)).toBe(BigInt(GUEST));
    expect(m.csr(HCsr.hstatus) & 0x80n).toBe(0n);
  });

  it('SRET from HS with SPV = 1 enters VS at sepc and clears SPV', () => {
    const m = hMachine([e.sret()]);
    m.ram.writeWords(GUEST, [e.csrr(R.a0, Csr.sscratch), e.wfi()]);
    m.hart.writeCsr(Csr.mstatus, MPP_S);
    m.hart.writeCsr(Csr.mepc, BigInt(DRAM + 4));
    m.ram.writeWords(DRAM + 4, [e.sret()]);
    m.ram.writeWords(DRAM, [e.mret()]);
    m.hart.writeCsr(Csr.sepc, BigInt(GUEST));
    m.hart.writeCsr(Csr.sstatus, 1n << 8n); // SPP = S
    m.hart.writeCsr(HCsr.hstatus, 0x80n); // SPV
    m.hart.writeCsr(HCsr.vsscratch, 0x77n);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getVirt()).toBe(1);
    expect(m.x(R.a0)).toBe(0x77n);
    expect(m.csr(HCsr.hstatus) & 0x80n).toBe(0n);
  });

  it('WFI in VS with VTW, SFENCE.VMA with VTVM, SRET with VTSR are virtual instructions', () => {
    for (const [inst, bit] of [
      [e.wfi(), 21n],
      [e.sfenceVma(0, 0), 20n],
      [e.sret(), 22n],
    ] as const) {
      const m = inVs([inst], (m) => m.hart.writeCsr(HCsr.hstatus, 1n << bit));
      m.run();
      expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.VirtualInstruction));
      expect(m.csr(Csr.mtval)).toBe(BigInt(inst >>> 0));
    }
  });

  it('WFI with mstatus.TW in VS is illegal; WFI in VU is virtual', () => {
    const tw = inVs([e.wfi()], (m) => m.hart.writeCsr(Csr.mstatus, MPV | MPP_S | (1n << 21n)));
    tw.run();
    expect(tw.csr(Csr.mcause)).toBe(BigInt(Cause.IllegalInstruction));
    const vu = inVs([e.wfi()], () => {}, 0n);
    vu.run();
    expect(vu.csr(Csr.mcause)).toBe(BigInt(Cause.VirtualInstruction));
  });

  it('a counter enabled by mcounteren but not hcounteren is a virtual instruction in VS', () => {
    const m = inVs([e.csrr(R.a0, Csr.cycle)], (m) => m.hart.writeCsr(Csr.mcounteren, 1n));
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.VirtualInstruction));
    const ok = inVs([e.csrr(R.a0, Csr.cycle)], (m) => {
      m.hart.writeCsr(Csr.mcounteren, 1n);
      m.hart.writeCsr(HCsr.hcounteren, 1n);
    });
    expect(ok.run().kind).toBe('wfi');
    expect(ok.hart.getPc()).toBe(GUEST + 8);
  });

  it('MRET from M with MPV = 0 clears V; MPV is cleared by MRET', () => {
    const m = inVs([e.ecall()]);
    m.ram.writeWords(HANDLER, [e.csrr(R.t0, Csr.mepc), e.addi(R.t0, R.t0, 4), e.csrw(Csr.mepc, R.t0), e.mret()]);
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getVirt()).toBe(1); // MPV was 1 on the trap from VS, so back to VS
    expect(m.hart.getPc()).toBe(GUEST + 8);
    expect(m.csr(Csr.mstatus) & MPV).toBe(0n);
  });
});

describe('V=1: interrupts', () => {
  it('VSSIP delegated by hideleg is taken in VS as cause 1 at vstvec', () => {
    const m = inVs([e.nop(), e.nop()], (m) => {
      m.hart.writeCsr(HCsr.hideleg, 4n);
      m.hart.writeCsr(HCsr.hie, 4n);
      m.hart.writeCsr(HCsr.vsstatus, 2n); // SIE
      m.hart.writeCsr(HCsr.hvip, 4n);
    });
    // The interrupt stays pending, so the handler's WFI does not idle: run MRET and the
    // handler's first instruction only.
    m.run(2);
    expect(m.hart.stats.interrupts).toBe(1);
    expect(m.hart.getVirt()).toBe(1);
    expect(m.hart.getPc()).toBe(VS_HANDLER + 4);
    expect(m.csr(Csr.scause)).toBe(INTERRUPT | 1n);
  });

  it('not delegated by hideleg, a VS-level interrupt goes to HS as cause 2, even with SIE = 0', () => {
    const m = inVs([e.nop()], (m) => {
      m.hart.writeCsr(HCsr.hie, 4n);
      m.hart.writeCsr(HCsr.hvip, 4n);
    });
    m.run(2);
    expect(m.hart.getPc()).toBe(HS_HANDLER + 4);
    expect(m.hart.getVirt()).toBe(0);
    expect(m.hart.getPrivilege()).toBe(1);
    expect(m.csr(Csr.scause)).toBe(INTERRUPT | BigInt(Irq.VSSI));
    expect(m.csr(HCsr.hstatus) & 0x80n).toBe(0x80n);
  });

  it('a VS-level interrupt is not taken in HS (V=0)', () => {
    const m = hMachine([e.nop(), e.wfi()]);
    m.hart.writeCsr(HCsr.hideleg, 4n);
    m.hart.writeCsr(HCsr.hie, 4n);
    m.hart.writeCsr(HCsr.hvip, 4n);
    m.hart.writeCsr(Csr.mstatus, 0xan); // MIE, SIE (in M: neither takes a VS interrupt)
    m.run(2);
    expect(m.hart.stats.interrupts).toBe(0);
    expect(m.hart.getPc()).toBe(DRAM + 8);
  });
});

describe('vstimecmp (Sstc for VS)', () => {
  it('VSTIP rises when time + htimedelta reaches vstimecmp, only with henvcfg.STCE', () => {
    let now = 1000;
    const m = hMachine([e.nop(), e.nop(), e.nop()]);
    m.hart.setTimeSource(() => now);
    m.hart.writeCsr(Csr.menvcfg, 1n << 63n);
    m.hart.writeCsr(HCsr.htimedelta, -500n); // the guest's time is 500 behind
    m.hart.writeCsr(HCsr.vstimecmp, 600n);
    m.run(1);
    expect(m.csr(Csr.mip) & 0x40n).toBe(0n); // STCE off in henvcfg
    m.hart.writeCsr(HCsr.henvcfg, 1n << 63n);
    m.run(1);
    expect(m.csr(Csr.mip) & 0x40n).toBe(0n); // 1000 - 500 < 600
    expect(m.hart.timerDeadline()).toBe(1100); // vstimecmp - htimedelta
    now = 1100;
    m.run(1);
    expect(m.csr(Csr.mip) & 0x40n).toBe(0x40n);
    expect(m.hart.timerDeadline()).toBe(2 ** 64); // VSTIP pending: only the S timer is left (all ones)
    expect(m.csr(HCsr.hip) & 0x40n).toBe(0x40n);
  });
});

describe('FP state with V=1', () => {
  const fmvDX = 0xf2000053 | (R.a0 << 15); // fmv.d.x f0, a0

  it('FP is illegal in VS while HS mstatus.FS is Off, even with vsstatus.FS on', () => {
    const m = inVs([fmvDX], (m) => m.hart.writeCsr(HCsr.vsstatus, 1n << 13n));
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.IllegalInstruction));
  });

  it('with both on it runs, and HS sees its FS dirty once V is 0 again', () => {
    const m = inVs([fmvDX, e.ecall()], (m) => {
      m.hart.writeCsr(HCsr.vsstatus, 1n << 13n);
      m.hart.writeCsr(Csr.mstatus, MPV | MPP_S | (1n << 13n));
    });
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.EcallVS));
    expect((m.csr(Csr.mstatus) >> 13n) & 3n).toBe(3n);
    expect((m.csr(HCsr.vsstatus) >> 13n) & 3n).toBe(3n);
  });
});
