// Two-stage translation (priv H 8.5): VS-stage of vsatp, G-stage of hgatp (Sv39x4), the
// guest-page faults 20/21/23 with the GPA >> 2 in htval, HLV/HLVX/HSV and HFENCE.

import { describe, expect, it } from 'vitest';
import { Csr } from '../csr.js';
import { Cause } from '../trap.js';
import { DATA, DRAM, e, machine, R, type Machine } from '../harness.test-util.js';
import { HCsr } from './csr.js';

const MPV = 1n << 39n;
const MPP_S = 1n << 11n;
const GUEST = DRAM + 0x1000;
const HS_HANDLER = DRAM + 0x9000;
const VS_HANDLER = DRAM + 0xa000;
/** G-stage root (16 KiB aligned) and VS-stage tables (guest-physical = host-physical here). */
const G_ROOT = DRAM + 0x40000;
const VS_ROOT = DRAM + 0x50000;
const VS_L1 = DRAM + 0x51000;
const VS_L0 = DRAM + 0x52000;
const G_L1 = DRAM + 0x44000;
const G_L0 = DRAM + 0x45000;
const V = 1,
  R_ = 2,
  W = 4,
  X = 8,
  U = 16,
  A = 64,
  D = 128;
const SV39 = 8n << 60n;

function pte(m: Machine, at: number, pa: number, flags: number): void {
  m.ram.writeWords(at, [((pa / 4096) << 10) | flags, 0]);
}

/** A hart with H, PMP open, the guest's code at GUEST; the G-stage maps the 1 GiB at
 *  DRAM identically (U, RWX) through a gigapage, unless `gstage` is false. */
function twoStage(guest: readonly number[], opts: { gstage?: boolean; mpp?: bigint } = {}): Machine {
  const m = machine([e.mret()], { h: true, ramSize: 0x100000 });
  m.hart.writeCsr(Csr.pmpaddr0, (1n << 54n) - 1n);
  m.hart.writeCsr(Csr.pmpcfg0, 0x1fn);
  m.ram.writeWords(GUEST, [...guest, e.wfi()]);
  m.ram.writeWords(HS_HANDLER, [e.wfi()]);
  m.ram.writeWords(VS_HANDLER, [e.wfi()]);
  m.hart.writeCsr(Csr.mstatus, MPV | (opts.mpp ?? MPP_S));
  m.hart.writeCsr(Csr.mepc, BigInt(GUEST));
  m.hart.writeCsr(Csr.stvec, BigInt(HS_HANDLER));
  m.hart.writeCsr(HCsr.vstvec, BigInt(VS_HANDLER));
  // Guest faults go to HS.
  m.hart.writeCsr(Csr.medeleg, (0xfn << 20n) | (1n << 13n) | (1n << 12n) | (1n << 15n));
  if (opts.gstage ?? true) {
    pte(m, G_ROOT + 2 * 8, DRAM, V | R_ | W | X | U | A | D);
    m.hart.writeCsr(HCsr.hgatp, SV39 | BigInt(G_ROOT / 4096));
  }
  m.ram.writeWords(DATA, [0x11223344, 0x55667788]);
  return m;
}

/** VS-stage Sv39 tables: the guest's code gigapage at DRAM identically, VA 0x1000 ->
 *  DATA (R/W, not U), VA 0x3000 -> DATA (X only). */
function vsTables(m: Machine): void {
  pte(m, VS_ROOT + 2 * 8, DRAM, V | R_ | W | X | A | D);
  pte(m, VS_ROOT, VS_L1, V);
  pte(m, VS_L1, VS_L0, V);
  pte(m, VS_L0 + 1 * 8, DATA, V | R_ | W | A | D);
  pte(m, VS_L0 + 3 * 8, DATA, V | X | A);
  m.hart.writeCsr(HCsr.vsatp, SV39 | BigInt(VS_ROOT / 4096));
}

describe('G-stage (Sv39x4)', () => {
  it('a VS guest with Bare vsatp runs and loads through an identity G-stage', () => {
    const m = twoStage([e.ld(R.a0, R.a1, 0)]);
    m.hart.setReg(R.a1, BigInt(DATA));
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getVirt()).toBe(1);
    expect(m.ux(R.a0)).toBe(0x55667788_11223344n);
  });

  it('an unmapped guest-physical address is a load guest-page fault: htval = GPA >> 2, stval = VA, GVA', () => {
    const m = twoStage([e.ld(R.a0, R.a1, 8)]);
    m.hart.setReg(R.a1, 0x4000_0000n);
    m.run();
    expect(m.hart.getVirt()).toBe(0);
    expect(m.csr(Csr.scause)).toBe(BigInt(Cause.LoadGuestPageFault));
    expect(m.csr(Csr.stval)).toBe(0x4000_0008n);
    expect(m.csr(HCsr.htval)).toBe(0x4000_0008n >> 2n);
    expect(m.csr(HCsr.hstatus) & 0x1c0n).toBe(0x1c0n); // GVA, SPV, SPVP
  });

  it('a store there is cause 23; a GPA wider than 41 bits faults too', () => {
    const m = twoStage([e.sd(R.a0, R.a1, 0)]);
    m.hart.setReg(R.a1, 1n << 41n);
    m.run();
    expect(m.csr(Csr.scause)).toBe(BigInt(Cause.StoreGuestPageFault));
    expect(m.csr(HCsr.htval)).toBe((1n << 41n) >> 2n);
  });

  it('a G-stage leaf without U is a fetch guest-page fault (cause 20), taken in M without delegation', () => {
    const m = twoStage([e.nop()]);
    pte(m, G_ROOT + 2 * 8, DRAM, V | R_ | W | X | A | D);
    m.hart.writeCsr(Csr.medeleg, 0n);
    m.hart.writeCsr(HCsr.hgatp, SV39 | BigInt(G_ROOT / 4096)); // flush
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.FetchGuestPageFault));
    expect(m.csr(HCsr.mtval2)).toBe(BigInt(GUEST) >> 2n);
    expect(m.csr(Csr.mtval)).toBe(BigInt(GUEST));
    expect(m.csr(Csr.mstatus) & (3n << 38n)).toBe(3n << 38n); // MPV, GVA
  });

  it('a 4 KiB G-stage mapping moves a guest page; its A and D bits are set by the walk', () => {
    const m = twoStage([e.ld(R.a0, R.a1, 0), e.sd(R.a1, R.a2, 0)]); // sd stores a1 at (a2)
    // GPA 0x1000_0000 -> host DATA through three levels (index 0 at the root).
    pte(m, G_ROOT, G_L1, V);
    pte(m, G_L1 + 128 * 8, G_L0, V);
    pte(m, G_L0, DATA, V | R_ | W | U);
    m.hart.setReg(R.a1, 0x1000_0000n);
    m.hart.setReg(R.a2, 0x1000_0000n);
    expect(m.run().kind).toBe('wfi');
    expect(m.ux(R.a0)).toBe(0x55667788_11223344n);
    expect(m.ram.s32[(G_L0 - DRAM) / 4]! & (A | D)).toBe(A | D);
  });
});

describe('VS-stage under the G-stage', () => {
  it('vsatp Sv39 maps VA 0x1000 to the data page', () => {
    const m = twoStage([e.ld(R.a0, R.a1, 0)]);
    vsTables(m);
    m.hart.setReg(R.a1, 0x1000n);
    expect(m.run().kind).toBe('wfi');
    expect(m.ux(R.a0)).toBe(0x55667788_11223344n);
  });

  it('a VS-stage page fault delegated by hedeleg is taken in VS with vstval', () => {
    const m = twoStage([e.ld(R.a0, R.a1, 0)]);
    vsTables(m);
    m.hart.writeCsr(HCsr.hedeleg, 1n << 13n);
    m.hart.setReg(R.a1, 0x2000n);
    m.run();
    expect(m.hart.getVirt()).toBe(1);
    expect(m.csr(HCsr.vscause)).toBe(BigInt(Cause.LoadPageFault));
    expect(m.csr(HCsr.vstval)).toBe(0x2000n);
  });

  it('a VS-stage table outside the G-stage is a guest-page fault on the PTE address', () => {
    // The first fetch (VA GUEST, VPN[2] = 2) reads its root PTE at GPA 0x4000_0010.
    const m = twoStage([e.nop()]);
    m.hart.writeCsr(HCsr.vsatp, SV39 | BigInt(0x4000_0000 / 4096));
    m.run();
    expect(m.csr(Csr.scause)).toBe(BigInt(Cause.FetchGuestPageFault));
    expect(m.csr(Csr.stval)).toBe(BigInt(GUEST));
    expect(m.csr(HCsr.htval)).toBe(BigInt(0x4000_0000 + 2 * 8) >> 2n);
    // The pseudoinstruction of a VS-stage PTE read, 64 bits (what QEMU 7.2 writes too).
    expect(m.csr(HCsr.htinst)).toBe(0x3000n);
  });

  it('htinst/mtinst: zero for the access itself, the walk pseudoinstruction for its PTE read, into HS and into M', () => {
    // Explicit: a load from an unmapped GPA (Bare vsatp).
    const explicit = twoStage([e.ld(R.a0, R.a1, 8)]);
    explicit.hart.setReg(R.a1, 0x4000_0000n);
    explicit.hart.writeCsr(HCsr.htinst, 0x1234n); // overwritten by the trap
    explicit.run();
    expect(explicit.csr(Csr.scause)).toBe(BigInt(Cause.LoadGuestPageFault));
    expect(explicit.csr(HCsr.htinst)).toBe(0n);
    // Implicit, not delegated: the walk's fault into M records mtinst, and a later
    // explicit fault (HS) does not inherit it.
    const walk = twoStage([e.nop()]);
    walk.hart.writeCsr(Csr.medeleg, 0n);
    walk.hart.writeCsr(HCsr.vsatp, SV39 | BigInt(0x4000_0000 / 4096));
    walk.run();
    expect(walk.csr(Csr.mcause)).toBe(BigInt(Cause.FetchGuestPageFault));
    expect(walk.csr(HCsr.mtinst)).toBe(0x3000n);
    expect(walk.csr(HCsr.htinst)).toBe(0n);
  });

  it("a store whose VS-stage walk faults on a PTE read is a store guest-page fault: the original access's type", () => {
    // priv 1.12 ch. 8, "Guest Physical Address Translation": the walk's access is checked as
    // a read, "However, any exception is always reported for the original access type".
    // QEMU 7.2 reports it as a load (21); guests/hyp's parity documents that.
    const m = twoStage([e.sd(R.a0, R.a1, 0)]);
    vsTables(m);
    pte(m, VS_ROOT + 1 * 8, 0x4000_0000, V); // VA 0x4000_0000..: a table at an unmapped GPA
    m.hart.setReg(R.a1, 0x4000_0000n);
    m.run();
    expect(m.csr(Csr.scause)).toBe(BigInt(Cause.StoreGuestPageFault));
    expect(m.csr(Csr.stval)).toBe(0x4000_0000n);
    expect(m.csr(HCsr.htval)).toBe(BigInt(0x4000_0000 + 0 * 8) >> 2n);
    expect(m.csr(HCsr.htinst)).toBe(0x3000n);
  });
});

describe('HLV, HLVX, HSV and HFENCE', () => {
  const hlvD = (rd: number, rs1: number): number => e.rType(0x73, rd, 4, rs1, 0, 0x36);
  const hlvxWu = (rd: number, rs1: number): number => e.rType(0x73, rd, 4, rs1, 3, 0x34);
  const hsvD = (rs2: number, rs1: number): number => e.rType(0x73, 0, 4, rs1, rs2, 0x37);
  const hfenceGvma = e.rType(0x73, 0, 0, 0, 0, 0x31);

  /** HS-mode code at GUEST (MPV = 0), with the guest's tables set up. */
  function hs(code: readonly number[]): Machine {
    const m = twoStage(code);
    m.hart.writeCsr(Csr.mstatus, MPP_S);
    m.hart.writeCsr(HCsr.hstatus, 1n << 8n); // SPVP = VS
    vsTables(m);
    return m;
  }

  it('HLV.D and HSV.D from HS access through both stages as VS', () => {
    const m = hs([hlvD(R.a0, R.a1), hsvD(R.a2, R.a1), e.ld(R.a3, R.a4, 0)]);
    m.hart.setReg(R.a1, 0x1000n);
    m.hart.setReg(R.a2, 0x1234n);
    m.hart.setReg(R.a4, BigInt(DATA));
    expect(m.run().kind).toBe('wfi');
    expect(m.hart.getVirt()).toBe(0);
    expect(m.ux(R.a0)).toBe(0x55667788_11223344n);
    expect(m.ux(R.a3)).toBe(0x1234n);
  });

  it('HLVX needs execute permission: X-only reads, R-only faults', () => {
    const ok = hs([hlvxWu(R.a0, R.a1)]);
    ok.hart.setReg(R.a1, 0x3000n);
    expect(ok.run().kind).toBe('wfi');
    expect(ok.ux(R.a0)).toBe(0x11223344n);
    const bad = hs([hlvxWu(R.a0, R.a1)]);
    bad.hart.setReg(R.a1, 0x1000n);
    bad.run();
    expect(bad.csr(Csr.scause)).toBe(BigInt(Cause.LoadPageFault));
    expect(bad.csr(HCsr.hstatus) & 0x40n).toBe(0x40n); // GVA: a guest address although V=0
  });

  it('HLV in VS is a virtual instruction; in U without hstatus.HU it is illegal', () => {
    const vs = twoStage([hlvD(R.a0, R.a1)]);
    vs.hart.writeCsr(Csr.medeleg, 0n);
    vs.run();
    expect(vs.csr(Csr.mcause)).toBe(BigInt(Cause.VirtualInstruction));
    const u = twoStage([hlvD(R.a0, R.a1)], { mpp: 0n });
    u.hart.writeCsr(Csr.mstatus, 0n); // MPV = 0, MPP = U
    u.hart.writeCsr(Csr.medeleg, 0n);
    u.run();
    expect(u.csr(Csr.mcause)).toBe(BigInt(Cause.IllegalInstruction));
  });

  it('HFENCE.GVMA makes a changed G-stage mapping visible', () => {
    // Load through GPA 0x1000_0000 (-> DATA), remap it to DATA + 0x1000, fence, load again.
    const m = hs([hlvD(R.a0, R.a1), e.sd(R.a3, R.a2, 0), hfenceGvma, hlvD(R.a4, R.a1)]);
    m.hart.writeCsr(HCsr.vsatp, 0n);
    pte(m, G_ROOT, G_L1, V);
    pte(m, G_L1 + 128 * 8, G_L0, V);
    pte(m, G_L0, DATA, V | R_ | W | U | A | D);
    m.ram.writeWords(DATA + 0x1000, [7, 0]);
    m.hart.setReg(R.a1, 0x1000_0000n);
    m.hart.setReg(R.a2, BigInt(G_L0));
    m.hart.setReg(R.a3, BigInt((((DATA + 0x1000) / 4096) << 10) | V | R_ | W | U | A | D));
    expect(m.run().kind).toBe('wfi');
    expect(m.ux(R.a0)).toBe(0x55667788_11223344n);
    expect(m.ux(R.a4)).toBe(7n);
  });

  it('a hart without H: HLV and HFENCE are illegal', () => {
    const m = machine([hlvD(R.a0, R.a1)]);
    m.run();
    expect(m.csr(Csr.mcause)).toBe(BigInt(Cause.IllegalInstruction));
    const f = machine([hfenceGvma]);
    f.run();
    expect(f.csr(Csr.mcause)).toBe(BigInt(Cause.IllegalInstruction));
  });
});
