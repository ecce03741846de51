// `mode: trap` (DESIGN.md "Virtualization modes"): full virtualization by trap-and-emulate
// (Popek & Goldberg), with ring compression, on a hart without the H extension. The guest
// kernel runs in real U-mode; the monitor keeps its virtual privilege (S or U) and its
// virtual supervisor CSRs. Every trap goes to M, which the monitor plays (Hart
// monitorTraps): the run ends and `handleTrap` decides what the guest sees:
//   - an illegal instruction from virtual S: a privileged instruction to emulate against the
//     virtual CSRs (CSR accesses, SRET, SFENCE.VMA, WFI);
//   - ECALL from virtual S: an SBI call (sbi.ts, as in hw);
//   - a page fault: a shadow fault (shadow-mmu.ts) filled from the guest's tables, or an MMIO
//     access (the guest's tables, or its paging being off, give a device address), or a page
//     fault the guest's own tables give, delivered to it;
//   - anything else meant for the guest (ECALL from virtual U, a breakpoint, an illegal
//     instruction in virtual U, ...): delivered virtually, as the hart would deliver it to S
//     (sepc, scause, stval, SPP/SPIE/SIE, a jump to stvec).
// Timer and external interrupts are virtual: pending in the virtual sip, injected when the
// virtual sie and sstatus.SIE allow, at the monitor's next look (a trap or a batch end).
import { Csr, type GuestRam, type Hart } from '@splitvisor/riscv';
import { regionAt } from '@splitvisor/platform';
import { Reason, type ReasonIndex } from '../exit-channel/index.js';
import type { MonitorHost, MonitorInit } from './hw-monitor.js';
import { decodeMemInsn, doDeviceAccess } from './mmio-insn.js';
import { callSbi, deadlineTicks, SBI_EXTENSIONS, type SbiExtensionName, type SbiHost } from './sbi.js';
import { monitorSbiHost } from './sbi-console.js';
import { Access, guestWalk, SATP_BARE, SATP_SV39, SATP_SV48, ShadowMmu, type ShadowContext } from './shadow-mmu.js';

const PAGE = 4096;
const S = 1;
const U = 0;
/** Causes (priv 1.12 table 3.6). */
const C_FETCH_ACCESS = 1;
const C_ILLEGAL = 2;
const C_LOAD_ACCESS = 5;
const C_STORE_ACCESS = 7;
const C_ECALL_U = 8;
const C_FETCH_PAGE = 12;
const C_LOAD_PAGE = 13;
const C_STORE_PAGE = 15;
/** Supervisor interrupts: software, timer, external (bit numbers in sip/sie). */
const SSI = 1;
const STI = 5;
const SEI = 9;
export const S_INTERRUPTS = (1 << SSI) | (1 << STI) | (1 << SEI);
/** The virtual CSRs the monitor emulates (priv 4.1). */
const CSR_SSTATUS = 0x100;
const CSR_SIE = 0x104;
const CSR_STVEC = 0x105;
const CSR_SCOUNTEREN = 0x106;
const CSR_SENVCFG = 0x10a;
const CSR_SSCRATCH = 0x140;
const CSR_SEPC = 0x141;
const CSR_SCAUSE = 0x142;
const CSR_STVAL = 0x143;
const CSR_SIP = 0x144;
const CSR_STIMECMP = 0x14d;
const CSR_SATP = 0x180;
const INST_SRET = 0x10200073;
const INST_WFI = 0x10500073;
const MASK64 = (1n << 64n) - 1n;
/** PMP entry 0 over everything, RWX, NAPOT: U-mode reaches RAM; the shadow decides the rest. */
export const PMP_ALL_ADDR = (1n << 54n) - 1n;
const PMP_ALL_CFG = 0x1fn;
/** mstatus.FS = Dirty: the guest's FP works in real U-mode (its virtual FS is kept apart). */
const MSTATUS_FS_DIRTY = 3n << 13n;

/**
 * A guest-chosen 64-bit address (sepc, stvec, a pv frame's pc) as the hart's pc. The hart
 * keeps its pc as an exact JS number; a value beyond 2^53 is non-canonical in Sv39 and Sv48
 * and beyond any physical address, so it becomes one that faults the same way (the guest
 * takes the fetch fault at the far address's stand-in, 2^53 - 2) instead of a throw.
 */
export function guestPc(x: bigint): number {
  const n = BigInt.asIntN(64, x);
  return n >= -(2n ** 53n) + 2n && n <= 2n ** 53n - 2n ? Number(n) : 2 ** 53 - 2;
}

/** The virtual supervisor state of the guest (what a real hart would hold in S-mode). */
interface VirtualSupervisor {
  priv: number;
  sie: number;
  spie: number;
  spp: number;
  sum: number;
  mxr: number;
  fs: number;
  stvec: bigint;
  sscratch: bigint;
  sepc: bigint;
  scause: bigint;
  stval: bigint;
  satp: bigint;
  /** sie and the software-writable part of sip (SSIP); STIP and SEIP are computed. */
  ie: number;
  ssip: number;
  scounteren: bigint;
  senvcfg: bigint;
  /** stimecmp (Sstc) in time ticks; Infinity when off. */
  stimecmp: number;
}

export class TrapMonitor {
  readonly shadow = new ShadowMmu();
  readonly sbiCalls: Record<SbiExtensionName, number> = Object.fromEntries(SBI_EXTENSIONS.map((e) => [e, 0])) as Record<SbiExtensionName, number>;
  /** Exceptions delivered to the guest's own handler, and interrupts injected. */
  delivered = 0;
  injected = 0;
  readonly v: VirtualSupervisor = {
    priv: S,
    sie: 0,
    spie: 0,
    spp: 0,
    sum: 0,
    mxr: 0,
    fs: 0,
    stvec: 0n,
    sscratch: 0n,
    sepc: 0n,
    scause: 0n,
    stval: 0n,
    satp: 0n,
    ie: 0,
    ssip: 0,
    scounteren: 0n,
    senvcfg: 0n,
    stimecmp: Number.POSITIVE_INFINITY,
  };
  private sbiDeadline = Number.POSITIVE_INFINITY;
  /** The SBI timer fired and no set_timer came since: STIP stays up. */
  private sbiTimerUp = false;
  private seip = false;
  /** The pc the guest resumes at (the hart's, updated by emulation and delivery). */
  protected pc = 0;
  private readonly out = new Int32Array(2);
  private readonly sbi: SbiHost;

  constructor(
    protected readonly hart: Hart,
    protected readonly ram: GuestRam,
    protected readonly host: MonitorHost,
    protected readonly init: MonitorInit,
  ) {
    this.sbi = this.sbiHost();
  }

  /** Reset: M's registers as the monitor needs them, then the kernel in real U-mode,
   *  virtual S-mode, at its entry with a0 = hartid and a1 = the device tree. */
  start(): void {
    const h = this.hart;
    h.setPageTableRam(this.shadow.tables);
    h.writeCsr(Csr.pmpaddr0, PMP_ALL_ADDR);
    h.writeCsr(Csr.pmpcfg0, PMP_ALL_CFG);
    h.writeCsr(Csr.medeleg, 0n);
    h.writeCsr(Csr.mideleg, 0n);
    h.writeCsr(Csr.mie, 0n);
    h.writeCsr(Csr.mcounteren, 0xffffffffn);
    h.writeCsr(Csr.scounteren, 0xffffffffn);
    h.writeCsr(Csr.mstatus, MSTATUS_FS_DIRTY);
    h.setReg(10, BigInt(this.init.hartId));
    h.setReg(11, BigInt(this.init.dtbAddr));
    this.pc = this.init.entry;
    this.resume();
  }

  /** After a 'monitor-trap' into M: serve it, then back into the guest (unless it stops). */
  handleTrap(): void {
    const h = this.hart;
    const t0 = performance.now();
    const cause = h.readCsr(Csr.mcause)!;
    this.pc = Number(BigInt.asIntN(64, h.readCsr(Csr.mepc)!));
    const tval = h.readCsr(Csr.mtval)!;
    if (cause >> 63n !== 0n) {
      this.host.fail(`trap monitor: unexpected interrupt ${cause & 0xffn} in M-mode`);
      return;
    }
    let reason: ReasonIndex | -1 = -1;
    const c = Number(cause);
    if (c === C_ILLEGAL && this.v.priv === S) reason = this.privileged(tval);
    else if (c === C_ECALL_U && this.v.priv === S) {
      this.ecall();
      reason = Reason.SbiCall;
    } else if (c === C_FETCH_PAGE || c === C_LOAD_PAGE || c === C_STORE_PAGE) reason = this.pageFault(c, Number(BigInt.asIntN(64, tval)));
    else {
      // Meant for the guest: its ECALL from U, breakpoints, misaligned and access faults, an
      // illegal instruction in virtual U.
      this.deliver(c, tval);
      reason = Reason.VirtualTrap;
    }
    if (reason >= 0) this.host.recordLocalExit(reason as ReasonIndex, performance.now() - t0);
    this.injectPending();
    this.resume();
  }

  /** Between batches: the timers, and an interrupt the guest can take now. The hart is in
   *  U at an instruction boundary. */
  tick(): void {
    this.pc = this.hart.getPc();
    if (this.injectPending()) this.resume();
  }

  setExternal(level: boolean): void {
    this.seip = level;
  }

  /** The next time (ticks) a virtual timer is due. */
  nextDeadline(): number {
    return Math.min(this.sbiDeadline, this.v.stimecmp);
  }

  // --- Privileged instructions (illegal in real U-mode) ---

  private privileged(tval: bigint): ReasonIndex | -1 {
    let inst = Number(tval & 0xffffffffn) >>> 0;
    if (inst === 0) inst = this.readInstruction(this.pc);
    if (inst === INST_SRET) {
      const v = this.v;
      v.priv = v.spp;
      v.sie = v.spie;
      v.spie = 1;
      v.spp = U;
      this.pc = guestPc(v.sepc);
      return Reason.PrivInsn;
    }
    if (inst === INST_WFI) {
      this.pc += 4;
      this.idle();
      return Reason.Wfi;
    }
    if ((inst & 0xfe007fff) === 0x12000073) {
      // SFENCE.VMA: with rs2 = x0 every address space's shadows go, with an ASID that one's
      // (any address in rs1: the whole space, a superset of what the fence orders).
      const rs2 = (inst >>> 20) & 31;
      if (rs2 === 0) this.flushShadow();
      else {
        this.shadow.flushAsid(Number(this.hart.getReg(rs2) & 0xffffn));
        this.hart.flushTlb();
      }
      this.pc += 4;
      return Reason.PrivInsn;
    }
    const f3 = (inst >>> 12) & 7;
    if ((inst & 0x7f) === 0x73 && f3 !== 0 && f3 !== 4) {
      if (this.csrInstruction(inst, f3)) {
        this.pc += 4;
        return Reason.PrivInsn;
      }
    }
    // MRET, an M-mode CSR, anything else S-mode may not do either: the guest's illegal instruction.
    this.deliver(C_ILLEGAL, BigInt(inst));
    return Reason.VirtualTrap;
  }

  /** CSRRW/S/C(I) on a virtual S CSR: false when the CSR is not one (illegal to the guest). */
  private csrInstruction(inst: number, f3: number): boolean {
    const csr = inst >>> 20;
    const rd = (inst >>> 7) & 31;
    const rs1 = (inst >>> 15) & 31;
    const old = this.csrRead(csr);
    if (old === undefined) return false;
    const src = f3 >= 5 ? BigInt(rs1) : this.hart.getReg(rs1) & MASK64;
    const op = f3 & 3; // 1 RW, 2 RS, 3 RC
    const writes = op === 1 || rs1 !== 0;
    if (writes) {
      const value = op === 1 ? src : op === 2 ? old | src : old & ~src;
      if (!this.csrWrite(csr, value & MASK64)) return false;
    }
    if (rd !== 0) this.hart.setReg(rd, BigInt.asIntN(64, old));
    return true;
  }

  private csrRead(csr: number): bigint | undefined {
    const v = this.v;
    switch (csr) {
      case CSR_SSTATUS: {
        const sd = v.fs === 3 ? 1n << 63n : 0n;
        return (
          sd |
          (2n << 32n) | // UXL = 64
          (BigInt(v.mxr) << 19n) |
          (BigInt(v.sum) << 18n) |
          (BigInt(v.fs) << 13n) |
          (BigInt(v.spp) << 8n) |
          (BigInt(v.spie) << 5n) |
          (BigInt(v.sie) << 1n)
        );
      }
      case CSR_SIE:
        return BigInt(v.ie);
      case CSR_SIP:
        return BigInt(this.pending());
      case CSR_STVEC:
        return v.stvec;
      case CSR_SCOUNTEREN:
        return v.scounteren;
      case CSR_SENVCFG:
        return v.senvcfg;
      case CSR_SSCRATCH:
        return v.sscratch;
      case CSR_SEPC:
        return v.sepc;
      case CSR_SCAUSE:
        return v.scause;
      case CSR_STVAL:
        return v.stval;
      case CSR_SATP:
        return v.satp;
      case CSR_STIMECMP:
        return Number.isFinite(v.stimecmp) ? BigInt(v.stimecmp) : MASK64;
      default:
        return undefined;
    }
  }

  protected csrWrite(csr: number, x: bigint): boolean {
    const v = this.v;
    switch (csr) {
      case CSR_SSTATUS: {
        const sum = Number((x >> 18n) & 1n);
        const mxr = Number((x >> 19n) & 1n);
        if (sum !== v.sum || mxr !== v.mxr) this.flushShadow(); // the shadows were built under the old ones
        v.sie = Number((x >> 1n) & 1n);
        v.spie = Number((x >> 5n) & 1n);
        v.spp = Number((x >> 8n) & 1n);
        v.fs = Number((x >> 13n) & 3n);
        v.sum = sum;
        v.mxr = mxr;
        return true;
      }
      case CSR_SIE:
        v.ie = Number(x & BigInt(S_INTERRUPTS));
        return true;
      case CSR_SIP:
        v.ssip = Number((x >> BigInt(SSI)) & 1n);
        return true;
      case CSR_STVEC:
        v.stvec = x & ~2n; // MODE 0 or 1 (WARL)
        return true;
      case CSR_SCOUNTEREN:
        v.scounteren = x & 0xffffffffn;
        return true;
      case CSR_SENVCFG:
        v.senvcfg = x & 1n;
        return true;
      case CSR_SSCRATCH:
        v.sscratch = x;
        return true;
      case CSR_SEPC:
        v.sepc = x & ~1n;
        return true;
      case CSR_SCAUSE:
        v.scause = x;
        return true;
      case CSR_STVAL:
        v.stval = x;
        return true;
      case CSR_SATP: {
        // A mode the hart lacks leaves satp unchanged (WARL, priv 4.1.11).
        const mode = Number(x >> 60n);
        if (mode !== SATP_BARE && mode !== SATP_SV39 && mode !== SATP_SV48) return true;
        const levels = mode === SATP_SV48 ? 4 : 3;
        v.satp = mode === SATP_BARE ? 0n : x;
        // Another paging mode: no shadow fits. Else the new space's cached shadows, if any.
        if (levels !== this.shadow.levelsNow) this.flushShadow();
        this.shadow.select(v.satp);
        this.hart.flushTlb();
        return true;
      }
      case CSR_STIMECMP:
        v.stimecmp = deadlineTicks(x);
        return true;
      default:
        return false;
    }
  }

  // --- Page faults: shadow fills, MMIO, the guest's own faults ---

  protected pageFault(cause: number, va: number): ReasonIndex | -1 {
    const acc = cause === C_FETCH_PAGE ? Access.Fetch : cause === C_LOAD_PAGE ? Access.Load : Access.Store;
    const t = this.walk(va, acc);
    if (!t) {
      this.deliver(cause, BigInt.asUintN(64, BigInt(va)));
      return Reason.VirtualTrap;
    }
    const off = t.pa - this.init.ramBase;
    if (off >= 0 && off < this.init.ramSize) {
      const ctx = this.v.priv as ShadowContext;
      if (!this.shadow.map(ctx, va, t.pa, t.perms)) {
        this.flushShadow();
        this.shadow.map(ctx, va, t.pa, t.perms);
      }
      // An upgraded leaf (a first store to a clean page) must not be answered from the TLB.
      this.hart.flushTlb();
      return Reason.ShadowFault;
    }
    if (acc === Access.Fetch) {
      this.deliver(C_FETCH_ACCESS, BigInt.asUintN(64, BigInt(va)));
      return Reason.VirtualTrap;
    }
    return this.mmio(t.pa, acc === Access.Store, va) ? -1 : Reason.VirtualTrap;
  }

  /** The guest's translation of `va` for `acc` at its virtual privilege. */
  private walk(va: number, acc: number): { pa: number; perms: number } | undefined {
    const v = this.v;
    const r = guestWalk(
      v.satp,
      va,
      acc,
      v.priv,
      v.sum !== 0,
      v.mxr !== 0,
      (pa) => this.readGuest64(pa),
      (pa, x) => this.writeGuest64(pa, x),
    );
    return r;
  }

  /** A device load or store at `pa` by the instruction at pc: true when done (counted as its
   *  MMIO exit), false when the guest got an access fault. */
  private mmio(pa: number, write: boolean, va: number): boolean {
    const lo = this.readParcel(this.pc);
    const hi = lo >= 0 && (lo & 3) === 3 ? this.readParcel(this.pc + 2) : 0;
    const insn = lo < 0 || hi < 0 ? undefined : decodeMemInsn(lo, hi);
    const fault = write ? C_STORE_ACCESS : C_LOAD_ACCESS;
    if (!insn || insn.store !== write || regionAt(pa) === undefined) {
      this.deliver(fault, BigInt.asUintN(64, BigInt(va)));
      return false;
    }
    if (!doDeviceAccess(insn, pa, this.hart, this.host, this.out)) {
      this.deliver(fault, BigInt.asUintN(64, BigInt(va)));
      return false;
    }
    this.pc += insn.length;
    return true;
  }

  // --- Delivery, interrupts, the way back in ---

  /** Gives the guest exception `cause` as a real hart would take it into S (priv 4.1.1). */
  protected deliver(cause: number, tval: bigint, interrupt = false): void {
    const v = this.v;
    v.sepc = BigInt.asUintN(64, BigInt(this.pc));
    v.scause = BigInt(cause) | (interrupt ? 1n << 63n : 0n);
    v.stval = tval;
    v.spp = v.priv;
    v.spie = v.sie;
    v.sie = 0;
    v.priv = S;
    const vectored = interrupt && (v.stvec & 3n) === 1n;
    this.pc = guestPc((v.stvec & ~3n) + (vectored ? BigInt(4 * cause) : 0n));
    if (interrupt) this.injected++;
    else this.delivered++;
  }

  /** sip as the guest sees it: SSIP as written, STIP from its timers, SEIP from the PLIC. */
  protected pending(): number {
    const now = this.host.now();
    if (now >= this.sbiDeadline) {
      this.sbiDeadline = Number.POSITIVE_INFINITY;
      this.sbiTimerUp = true;
    }
    const stip = this.sbiTimerUp || now >= this.v.stimecmp;
    return (this.v.ssip << SSI) | (stip ? 1 << STI : 0) | (this.seip ? 1 << SEI : 0);
  }

  /** Injects the highest pending and enabled interrupt, if the guest can take it now. */
  protected injectPending(): boolean {
    const v = this.v;
    const p = this.pending() & v.ie;
    if (p === 0 || (v.priv === S && v.sie === 0)) return false;
    const code = (p & (1 << SEI)) !== 0 ? SEI : (p & (1 << SSI)) !== 0 ? SSI : STI;
    const t0 = performance.now();
    this.deliver(code, 0n, true);
    this.host.recordLocalExit(Reason.VirqInject, performance.now() - t0);
    return true;
  }

  /** WFI: sleep until an interrupt is pending and enabled (whatever SIE says, priv 3.3.3). */
  protected idle(): void {
    if ((this.pending() & this.v.ie) !== 0) return;
    this.host.idle(this.nextDeadline());
  }

  /** Back into the guest at this.pc, in real U-mode, with the shadow of its privilege. */
  protected resume(): void {
    const h = this.hart;
    const satp = this.shadow.satp(this.v.priv as ShadowContext);
    if (h.readCsr(Csr.satp) !== BigInt.asIntN(64, satp)) {
      h.writeCsr(Csr.satp, satp);
      h.flushTlb();
    }
    h.enterUser(this.pc);
  }

  protected flushShadow(): void {
    this.shadow.flush(Number(this.v.satp >> 60n) === SATP_SV48 ? 4 : 3);
    this.hart.flushTlb();
  }

  protected ecall(): void {
    callSbi(this.hart, this.sbi, this.sbiCalls);
    this.pc += 4;
  }

  // --- Guest memory, by guest-physical address ---

  private ramOffset(pa: number, len: number, write: boolean): number {
    const off = pa - this.init.ramBase;
    if (!(off >= 0 && off + len <= this.init.ramSize)) return -1;
    const page = Math.floor(off / PAGE);
    if (this.ram.pageState[page]! < (write ? 2 : 1) && !this.ram.miss(page, write)) return -1;
    return off;
  }

  protected readGuest64(pa: number): bigint | undefined {
    const off = this.ramOffset(pa, 8, false);
    if (off < 0) return undefined;
    const w = off >>> 2;
    return (BigInt(this.ram.s32[w + 1]! >>> 0) << 32n) | BigInt(this.ram.s32[w]! >>> 0);
  }

  protected writeGuest64(pa: number, x: bigint): boolean {
    const off = this.ramOffset(pa, 8, true);
    if (off < 0) return false;
    const w = off >>> 2;
    this.ram.s32[w] = Number(x & 0xffffffffn) | 0;
    this.ram.s32[w + 1] = Number(x >> 32n) | 0;
    this.ram.invalidateCode(off >>> 12);
    return true;
  }

  /** The 16-bit parcel at guest virtual `va` as the guest fetches it, or -1. */
  private readParcel(va: number): number {
    const t = this.walk(va, Access.Fetch);
    if (!t) return -1;
    const off = this.ramOffset(t.pa, 2, false);
    return off < 0 ? -1 : this.ram.u16[off >>> 1]!;
  }

  private readInstruction(va: number): number {
    const lo = this.readParcel(va);
    const hi = lo >= 0 ? this.readParcel(va + 2) : -1;
    return lo < 0 || hi < 0 ? 0 : ((hi << 16) | lo) >>> 0;
  }

  private sbiHost(): SbiHost {
    return monitorSbiHost(this.init.hartId, this.host, this.ram, {
      setTimer: (deadline) => {
        this.sbiTimerUp = false;
        this.sbiDeadline = deadlineTicks(deadline);
      },
      sendIpi: () => (this.v.ssip = 1),
      flushTlb: () => this.flushShadow(),
    });
  }
}
