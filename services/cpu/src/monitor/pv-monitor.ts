// `mode: pv` (DESIGN.md "Virtualization modes"): paravirtualization, on a hart without the H
// extension. The guest kernel runs in real U-mode as in `trap`, and until it registers it is
// served exactly as there (trap-and-emulate, shadow page tables): an unmodified kernel runs.
// A kernel that finds Splitvisor's pv extension (docs/pv-abi.md) registers a vcpu page and a
// page-table arena (PV_REGISTER); from then on:
//   - its virtual supervisor registers live in the vcpu page: it reads and writes them with
//     plain loads and stores, the monitor syncs them at every entry and exit;
//   - it returns from traps with PV_TRAP_RETURN instead of SRET, sleeps with PV_BLOCK;
//   - paging is direct (direct-paging.ts): the hart walks the guest's own tables, validated
//     on every PV_MMU_UPDATE batch, pinned roots only, the arena read-only by PMP; a page
//     fault is the guest's own, delivered to it without a shadow in between.
// A trap from virtual U arrives with a0 and sscratch exchanged (what a native vector's first
// instruction does), so the vector needs no privileged instruction.
import { Csr } from '@splitvisor/riscv';
import { Reason, type ReasonIndex } from '../exit-channel/index.js';
import { DirectPaging } from './direct-paging.js';
import { PV_ABI_VERSION, PV_CALL_NAMES, PV_EID, PV_MMU_UPDATE_MAX, PvCall, SbiError, Vcpu, type PvCallName } from './pv-abi.js';
import { guestPc, PMP_ALL_ADDR, S_INTERRUPTS, TrapMonitor } from './trap-monitor.js';

const PAGE = 4096;
const S = 1;
const U = 0;
const CSR_SATP = 0x180;
const SBI_BASE = 0x10;
const SBI_PROBE = 3;
/** sstatus bits kept in the vcpu page. */
const SIE = 1n << 1n;
const SPIE = 1n << 5n;
const SPP = 1n << 8n;
/** PMP: entry 0 the arena's base (OFF), 1 TOR up to its end, read-only; 2 everything else. */
const PMP_TOR_R = 0x09n;
const PMP_NAPOT_RWX = 0x1fn;
const MASK64 = (1n << 64n) - 1n;

export class PvMonitor extends TrapMonitor {
  readonly paging: DirectPaging;
  readonly pvCalls: Record<PvCallName, number> = Object.fromEntries(PV_CALL_NAMES.map((n) => [n, 0])) as Record<PvCallName, number>;
  /** The vcpu page (guest-physical), 0 until PV_REGISTER. */
  private vcpu = 0;
  /** The pinned roots the hart uses in virtual S and virtual U (satp values; 0: paging off). */
  private kernelSatp = 0n;
  private userSatp = 0n;
  private warnings = 0;

  constructor(...args: ConstructorParameters<typeof TrapMonitor>) {
    super(...args);
    this.paging = new DirectPaging(this.init.ramBase, this.init.ramSize, {
      read64: (pa) => this.readGuest64(pa),
      write64: (pa, x) => this.writeGuest64(pa, x),
    });
  }

  get registered(): boolean {
    return this.vcpu !== 0;
  }

  override handleTrap(): void {
    if (this.registered) this.pull();
    super.handleTrap();
  }

  override tick(): void {
    if (this.registered) {
      this.pull();
      this.writeGuest64(this.vcpu + Vcpu.Sip, BigInt(this.pending()));
    }
    super.tick();
  }

  // --- what changes once the guest is paravirtual ---

  protected override pageFault(cause: number, va: number): ReasonIndex | -1 {
    if (!this.registered) return super.pageFault(cause, va);
    // The hart walked the guest's own tables: the fault is the guest's.
    this.deliver(cause, BigInt.asUintN(64, BigInt(va)));
    return Reason.VirtualTrap;
  }

  protected override csrWrite(csr: number, x: bigint): boolean {
    // satp is set through PV_SET_PT_BASE only: a direct write is an illegal instruction.
    if (this.registered && csr === CSR_SATP) return false;
    return super.csrWrite(csr, x);
  }

  protected override flushShadow(): void {
    if (this.registered) this.hart.flushTlb();
    else super.flushShadow();
  }

  protected override deliver(cause: number, tval: bigint, interrupt = false): void {
    const fromUser = this.v.priv === U;
    super.deliver(cause, tval, interrupt);
    if (this.registered && fromUser) {
      const a0 = this.hart.getReg(10);
      this.hart.setReg(10, BigInt.asIntN(64, this.v.sscratch));
      this.v.sscratch = BigInt.asUintN(64, a0);
    }
  }

  protected override resume(): void {
    if (!this.registered) {
      super.resume();
      return;
    }
    this.push();
    const h = this.hart;
    const satp = this.v.priv === S ? this.kernelSatp : this.userSatp;
    if (h.readCsr(Csr.satp) !== BigInt.asIntN(64, satp)) {
      h.writeCsr(Csr.satp, satp);
      h.flushTlb();
    }
    h.enterUser(this.pc);
  }

  protected override ecall(): void {
    const h = this.hart;
    const eid = Number(h.getReg(17) & 0xffffffffn);
    const fid = Number(h.getReg(16) & 0xffffffffn);
    if (eid === SBI_BASE && fid === SBI_PROBE && Number(h.getReg(10) & 0xffffffffn) === PV_EID) {
      this.sbiCalls.base++;
      this.answer(0, 1n);
      return;
    }
    if (eid !== PV_EID) {
      super.ecall();
      return;
    }
    const name = PV_CALL_NAMES[fid];
    if (name === undefined) {
      this.answer(SbiError.NotSupported, 0n);
      return;
    }
    this.pvCalls[name]++;
    if (fid !== PvCall.Version && fid !== PvCall.Register && !this.registered) {
      this.refuse(SbiError.Denied, 0n, `${name} before register`);
      return;
    }
    const a = (i: number): bigint => BigInt.asUintN(64, h.getReg(10 + i));
    switch (fid) {
      case PvCall.Version:
        return this.answer(0, BigInt(PV_ABI_VERSION));
      case PvCall.Register:
        return this.register(Number(a(0)), Number(a(1)), Number(a(2)));
      case PvCall.MmuUpdate:
        return this.mmuUpdate(Number(a(0)), Number(a(1)));
      case PvCall.Pin:
      case PvCall.Unpin:
        return this.pinning(fid === PvCall.Pin, Number(a(0)));
      case PvCall.SetPtBase:
        return this.setPtBase(a(0), a(1));
      case PvCall.TlbFlush:
        h.flushTlb();
        return this.answer(0, 0n);
      case PvCall.TrapReturn:
        return this.trapReturn(Number(a(0)));
      case PvCall.Block:
        this.answer(0, 0n);
        this.idle();
        return;
      default: // Events: nothing to do here; the interrupt is injected on the way back in.
        return this.answer(0, 0n);
    }
  }

  // --- the hypercalls ---

  private register(vcpu: number, arena: number, pages: number): void {
    if (this.registered) return this.refuse(SbiError.AlreadyAvailable, 0n, 'register: already registered');
    if (this.v.satp !== 0n) return this.refuse(SbiError.Denied, 0n, 'register: paging must be off (satp bare)');
    if (vcpu % PAGE !== 0 || !this.paging.inRam(vcpu, PAGE))
      return this.refuse(SbiError.InvalidAddress, 0n, `register: vcpu page 0x${vcpu.toString(16)} is not a page of RAM`);
    const why = this.paging.register(arena, pages);
    if (why) return this.refuse(SbiError.InvalidParam, 0n, `register: ${why}`);
    if (this.paging.inArena(vcpu, PAGE)) {
      this.paging.arenaPages = 0;
      return this.refuse(SbiError.InvalidParam, 0n, 'register: the vcpu page is inside the arena');
    }
    this.vcpu = vcpu;
    // The arena is read-only to the hart's U-mode, whatever any mapping says.
    const h = this.hart;
    h.writeCsr(Csr.pmpaddr0, BigInt(arena) >> 2n);
    h.writeCsr(Csr.pmpaddr0 + 1, BigInt(arena + pages * PAGE) >> 2n);
    h.writeCsr(Csr.pmpaddr0 + 2, PMP_ALL_ADDR);
    h.writeCsr(Csr.pmpcfg0, (PMP_NAPOT_RWX << 16n) | (PMP_TOR_R << 8n));
    super.flushShadow();
    // Direct paging: the hart walks the guest's own tables, in guest RAM.
    h.setPageTableRam(null);
    this.answer(0, 0n);
  }

  private mmuUpdate(list: number, count: number): void {
    if (!Number.isSafeInteger(count) || count < 1 || count > PV_MMU_UPDATE_MAX)
      return this.refuse(SbiError.InvalidParam, 0n, `mmu_update: count ${count} (1 to ${PV_MMU_UPDATE_MAX})`);
    for (let i = 0; i < count; i++) {
      const pte = this.readGuest64(list + i * 16);
      const value = this.readGuest64(list + i * 16 + 8);
      if (pte === undefined || value === undefined) {
        this.hart.flushTlb();
        return this.refuse(SbiError.InvalidAddress, BigInt(i), `mmu_update: pair ${i} at 0x${(list + i * 16).toString(16)} is not in RAM`);
      }
      const why = this.paging.update(Number(pte), value);
      if (why) {
        this.hart.flushTlb();
        return this.refuse(SbiError.InvalidParam, BigInt(i), `mmu_update: pair ${i}: ${why}`);
      }
    }
    // Every batch drops the hart's cached translations: no separate flush is needed after it.
    this.hart.flushTlb();
    this.answer(0, BigInt(count));
  }

  private pinning(pin: boolean, root: number): void {
    if (!pin && (this.rootOf(this.kernelSatp) === root || this.rootOf(this.userSatp) === root)) {
      return this.refuse(SbiError.Denied, 0n, `unpin: 0x${root.toString(16)} is a root the hart uses now`);
    }
    const why = pin ? this.paging.pin(root) : this.paging.unpin(root);
    if (why) return this.refuse(SbiError.InvalidParam, 0n, `${pin ? 'pin' : 'unpin'}: ${why}`);
    this.hart.flushTlb();
    this.answer(0, 0n);
  }

  private setPtBase(kernel: bigint, user: bigint): void {
    if (user === 0n) user = kernel;
    for (const [what, satp] of [
      ['kernel', kernel],
      ['user', user],
    ] as const) {
      if (satp === 0n) continue;
      if (satp >> 60n !== 8n || ((satp >> 44n) & 0xffffn) !== 0n)
        return this.refuse(SbiError.InvalidParam, 0n, `set_pt_base: ${what} satp 0x${satp.toString(16)} is not Sv39 with ASID 0`);
      if (!this.paging.isPinnedRoot(this.rootOf(satp)))
        return this.refuse(SbiError.InvalidParam, 0n, `set_pt_base: ${what} root 0x${this.rootOf(satp).toString(16)} is not pinned`);
    }
    this.kernelSatp = kernel;
    this.userSatp = user;
    this.v.satp = kernel;
    this.answer(0, 0n);
  }

  /** SRET's work with the registers from a frame: x1..x31, then pc (docs/pv-abi.md). */
  private trapReturn(frame: number): void {
    const h = this.hart;
    const words: bigint[] = [];
    for (let i = 0; i < 32; i++) {
      const w = this.readGuest64(frame + i * 8);
      if (w === undefined) return this.refuse(SbiError.InvalidAddress, 0n, `trap_return: frame 0x${frame.toString(16)} is not in RAM`);
      words.push(w);
    }
    const v = this.v;
    v.priv = v.spp;
    v.sie = v.spie;
    v.spie = 1;
    v.spp = U;
    for (let r = 1; r < 32; r++) h.setReg(r, BigInt.asIntN(64, words[r - 1]!));
    this.pc = guestPc(words[31]! & ~1n);
  }

  // --- the vcpu page ---

  /** The guest's writes to its virtual registers, into the monitor's state. */
  private pull(): void {
    const v = this.v;
    const at = (off: number): bigint => this.readGuest64(this.vcpu + off) ?? 0n;
    const st = at(Vcpu.Sstatus);
    v.sie = (st & SIE) !== 0n ? 1 : 0;
    v.spie = (st & SPIE) !== 0n ? 1 : 0;
    v.spp = (st & SPP) !== 0n ? S : U;
    v.ie = Number(at(Vcpu.Sie) & BigInt(S_INTERRUPTS));
    v.stvec = at(Vcpu.Stvec) & ~2n;
    v.sscratch = at(Vcpu.Sscratch);
    v.sepc = at(Vcpu.Sepc) & ~1n;
    v.scause = at(Vcpu.Scause);
    v.stval = at(Vcpu.Stval);
  }

  /** The monitor's state into the page, before the guest runs again. */
  private push(): void {
    const v = this.v;
    const put = (off: number, x: bigint): void => void this.writeGuest64(this.vcpu + off, x & MASK64);
    put(Vcpu.Sstatus, (v.sie ? SIE : 0n) | (v.spie ? SPIE : 0n) | (v.spp === S ? SPP : 0n));
    put(Vcpu.Sie, BigInt(v.ie));
    put(Vcpu.Sip, BigInt(this.pending()));
    put(Vcpu.Stvec, v.stvec);
    put(Vcpu.Sscratch, v.sscratch);
    put(Vcpu.Sepc, v.sepc);
    put(Vcpu.Scause, v.scause);
    put(Vcpu.Stval, v.stval);
  }

  // --- helpers ---

  private answer(error: number, value: bigint): void {
    this.hart.setReg(10, BigInt(error));
    this.hart.setReg(11, BigInt.asIntN(64, value));
    this.pc += 4;
  }

  /** A refused hypercall: the guest gets the error; the log says what was wrong (the first few). */
  private refuse(error: number, value: bigint, why: string): void {
    if (this.warnings++ < 20) this.host.log(`pv: refused ${why}`, { error });
    this.answer(error, value);
  }

  private rootOf(satp: bigint): number {
    return satp === 0n ? -1 : Number(satp & ((1n << 44n) - 1n)) * PAGE;
  }
}
