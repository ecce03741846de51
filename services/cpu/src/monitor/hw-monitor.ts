// `mode: hw` (DESIGN.md "Virtualization modes"): the cpu service plays HS-mode, as KVM does
// on a RISC-V host with the H extension. The guest kernel runs in VS-mode on the hart and
// executes its privileged instructions natively (its CSRs are the VS ones, its page tables
// the VS-stage); what leaves the guest is a trap the hart takes into HS, which here ends
// the hart's run ('monitor-trap', Hart monitorTraps) and comes to `handleTrap`:
//   - ECALL from VS (cause 10): an SBI call (sbi.ts), served here, no firmware in the guest;
//   - a guest-page fault (20, 21, 23) on RAM: the page is not in this cpu's page cache, so
//     it is fetched from mmu and mapped in the G-stage (gstage-map.ts);
//   - a guest-page fault on a device: the MMIO exit, decoded from the instruction and done
//     as in emulate mode (PLIC and CLINT in this thread, the rest in io-backend);
//   - a virtual instruction (22): WFI with hstatus.VTW (the vCPU sleeps until an interrupt),
//     or anything else a VS kernel may not do, which it gets back as an illegal instruction.
// Interrupts go the other way, into hvip: the PLIC's S-context drives VSEIP, the SBI timer
// VSTIP, SBI IPIs VSSIP; the guest's own vstimecmp (Sstc) needs no exit at all.
import { Csr, HCsr, type GuestRam, type Hart } from '@splitvisor/riscv';
import { regionAt } from '@splitvisor/platform';
import { Reason, type ReasonIndex } from '../exit-channel/index.js';
import { GStageMap } from './gstage-map.js';
import { decodeMemInsn, doDeviceAccess } from './mmio-insn.js';
import { callSbi, deadlineTicks, SBI_EXTENSIONS, type SbiExtensionName, type SbiHost } from './sbi.js';
import { monitorSbiHost } from './sbi-console.js';

const PAGE = 4096;
/** Trap causes (priv 1.12 table 3.6, H 8.6). */
const CAUSE_FETCH_ACCESS = 1;
const CAUSE_ILLEGAL = 2;
const CAUSE_LOAD_ACCESS = 5;
const CAUSE_STORE_ACCESS = 7;
const CAUSE_VS_ECALL = 10;
const CAUSE_FETCH_GUEST_PAGE = 20;
const CAUSE_LOAD_GUEST_PAGE = 21;
const CAUSE_VIRTUAL_INSN = 22;
const CAUSE_STORE_GUEST_PAGE = 23;
const INST_WFI = 0x10500073;
/** hvip's VS-level bits. */
const VSSIP = 1 << 2;
const VSTIP = 1 << 6;
const VSEIP = 1 << 10;
/** hstatus: VTW (WFI in VS traps), SPVP, SPV. */
const HSTATUS_SPV = 1n << 7n;
const HSTATUS_SPVP = 1n << 8n;
const HSTATUS_VTW = 1n << 21n;
/**
 * Exceptions the guest kernel handles itself (hedeleg), as KVM delegates them: misaligned
 * and access faults, illegal instruction, breakpoint, ECALL from VU, page faults. Those
 * not listed (ECALL from VS, guest-page faults, virtual instruction) come to the monitor.
 */
const HEDELEG = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 15].reduce((m, b) => m | (1n << BigInt(b)), 0n);
/** Every exception M could delegate goes to HS (the monitor plays both). */
const MEDELEG = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 20, 21, 22, 23].reduce((m, b) => m | (1n << BigInt(b)), 0n);
/** Sstc's enables (menvcfg/henvcfg bit 63): the guest's stimecmp is vstimecmp, no exit. */
const ENVCFG_STCE = 1n << 63n;
/** PMP entry 0 over all of physical memory, RWX, NAPOT: what OpenSBI leaves to S-mode. */
const PMP_ALL_ADDR = (1n << 54n) - 1n;
const PMP_ALL_CFG = 0x1fn;
/** mstatus.FS = Initial: HS's FS must be on for the guest's FP to work (priv H 8.2.10). */
const MSTATUS_FS_INITIAL = 1n << 13n;

/** What the monitor needs from the vCPU around it (vcpu-runner.ts). */
export interface MonitorHost {
  /** Device accesses as emulate mode does them (local devices, posted stores, exits). */
  load(pa: number, size: 1 | 2 | 4 | 8, out: Int32Array): boolean;
  store(pa: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): boolean;
  /** Fetches the page and the run after it from mmu; how many pages were installed (0:
   *  the fetch failed and the vCPU is being stopped). */
  fetch(page: number, write: boolean): number;
  /** Idles until an interrupt line changes, a host request, or `deadline` (time ticks). */
  idle(deadline: number): void;
  /** The platform clock in 10 MHz ticks (the `time` CSR). */
  now(): number;
  recordLocalExit(reason: ReasonIndex, ms: number): void;
  poweroff(exitCode: number): void;
  reset(): void;
  fail(reason: string): void;
  log(msg: string, fields: Record<string, unknown>): void;
}

export interface MonitorInit {
  hartId: number;
  ramBase: number;
  ramSize: number;
  entry: number;
  dtbAddr: number;
}

export class HwMonitor {
  readonly gstage: GStageMap;
  /** SBI calls by extension (KVM's vcpu_sbi counters). */
  readonly sbiCalls: Record<SbiExtensionName, number> = Object.fromEntries(SBI_EXTENSIONS.map((e) => [e, 0])) as Record<SbiExtensionName, number>;
  /** Guest-page faults on RAM (page fetched or mapped) and on devices (MMIO). */
  ramFaults = 0;
  mmioFaults = 0;
  /** The SBI timer's deadline in time ticks (set_timer), or Infinity. */
  private sbiDeadline = Number.POSITIVE_INFINITY;
  private readonly out = new Int32Array(2);
  private readonly sbi: SbiHost;

  constructor(
    private readonly hart: Hart,
    private readonly ram: GuestRam,
    private readonly host: MonitorHost,
    private readonly init: MonitorInit,
  ) {
    this.gstage = new GStageMap(init.ramBase, init.ramSize);
    this.sbi = this.sbiHost();
  }

  /** The hart's reset: HS's and M's registers as a hypervisor leaves them before its first
   *  VM entry, then into VS at the kernel's entry with a0 = hartid, a1 = the device tree. */
  start(): void {
    const h = this.hart;
    h.setGStageTableRam(this.gstage.tables);
    h.writeCsr(Csr.pmpaddr0, PMP_ALL_ADDR);
    h.writeCsr(Csr.pmpcfg0, PMP_ALL_CFG);
    h.writeCsr(Csr.medeleg, MEDELEG);
    h.writeCsr(Csr.mcounteren, 0xffffffffn);
    h.writeCsr(Csr.menvcfg, ENVCFG_STCE);
    h.writeCsr(Csr.mstatus, MSTATUS_FS_INITIAL);
    h.writeCsr(HCsr.hedeleg, HEDELEG);
    h.writeCsr(HCsr.hideleg, BigInt(VSSIP | VSTIP | VSEIP));
    h.writeCsr(HCsr.hcounteren, 0xffffffffn);
    h.writeCsr(HCsr.henvcfg, ENVCFG_STCE);
    h.writeCsr(HCsr.hstatus, HSTATUS_VTW | HSTATUS_SPVP | HSTATUS_SPV);
    h.writeCsr(HCsr.hgatp, this.gstage.hgatp());
    h.writeCsr(Csr.stvec, 0n);
    h.enterVirtualSupervisor(this.init.entry);
    h.setReg(10, BigInt(this.init.hartId));
    h.setReg(11, BigInt(this.init.dtbAddr));
  }

  /** After an 'monitor-trap': serves the trap and returns to the guest (unless the vCPU stops). */
  handleTrap(): void {
    const h = this.hart;
    const t0 = performance.now();
    const cause = h.readCsr(Csr.scause)!;
    if (cause >> 63n !== 0n) {
      // No interrupt is delegated to HS-mode in hw: one here is a monitor bug.
      this.host.fail(`hw monitor: unexpected interrupt ${cause & 0xffn} in HS-mode`);
      return;
    }
    let reason: ReasonIndex;
    switch (Number(cause)) {
      case CAUSE_VS_ECALL:
        this.ecall();
        reason = Reason.SbiCall;
        break;
      case CAUSE_FETCH_GUEST_PAGE:
      case CAUSE_LOAD_GUEST_PAGE:
      case CAUSE_STORE_GUEST_PAGE: {
        const mmio = this.guestPageFault(Number(cause));
        // An MMIO exit counted itself (mmio-read/-write) in host.load/store.
        if (mmio) {
          h.hsReturn();
          return;
        }
        reason = Reason.GuestPageFault;
        break;
      }
      case CAUSE_VIRTUAL_INSN:
        if (this.virtualInstruction()) {
          h.hsReturn();
          return;
        }
        reason = Reason.PrivInsn;
        break;
      default:
        this.host.fail(`hw monitor: trap cause ${cause} from the guest at ${hex(h.readCsr(Csr.sepc)!)} reached HS-mode (not delegated)`);
        return;
    }
    h.hsReturn();
    this.host.recordLocalExit(reason, performance.now() - t0);
  }

  /** Between batches and after idling: the SBI timer's VSTIP. */
  tick(): void {
    if (this.host.now() >= this.sbiDeadline) {
      this.sbiDeadline = Number.POSITIVE_INFINITY;
      this.setHvip(VSTIP, true);
    }
  }

  /** The PLIC's S-context output for this hart: VSEIP. */
  setExternal(level: boolean): void {
    this.setHvip(VSEIP, level);
  }

  /** The next time (ticks) something of the monitor's is due: the SBI timer. */
  nextDeadline(): number {
    return this.sbiDeadline;
  }

  /** Pages the page cache lowered (a recall from mmu): the G-stage follows, then the TLB. */
  pagesLowered(pages: readonly number[]): void {
    const states = this.ram.pageState;
    for (const p of pages) {
      const st = states[p]!;
      if (st === 0) this.gstage.unmap(p);
      else if (this.gstage.state(p) === 'write' && st < 2) this.gstage.map(p, false);
    }
    this.hart.flushTlb();
  }

  // --- The traps ---

  private ecall(): void {
    callSbi(this.hart, this.sbi, this.sbiCalls);
    this.advance(4);
  }

  /** A guest-page fault: true when it was an MMIO access (already counted as its exit). */
  private guestPageFault(cause: number): boolean {
    const h = this.hart;
    const gpa = Number((h.readCsr(HCsr.htval)! << 2n) | (h.readCsr(Csr.stval)! & 3n));
    const off = gpa - this.init.ramBase;
    if (off >= 0 && off < this.init.ramSize) {
      this.ramFaults++;
      this.mapRam(Math.floor(off / PAGE), cause === CAUSE_STORE_GUEST_PAGE);
      return false;
    }
    this.mmioFaults++;
    if (cause === CAUSE_FETCH_GUEST_PAGE) {
      this.inject(CAUSE_FETCH_ACCESS, h.readCsr(Csr.stval)!);
      return true;
    }
    this.mmio(gpa, cause === CAUSE_STORE_GUEST_PAGE);
    return true;
  }

  private mapRam(page: number, write: boolean): void {
    const states = this.ram.pageState;
    const need = write ? 2 : 1;
    if (states[page]! >= need) {
      this.gstage.map(page, states[page] === 2);
      // A read-only mapping was upgraded, or a page held but not mapped: fence the old view.
      this.hart.flushTlb();
      return;
    }
    const n = this.host.fetch(page, write);
    for (let i = 0; i < n; i++) {
      const st = states[page + i]!;
      if (st !== 0) this.gstage.map(page + i, st === 2);
    }
    if (n > 0) this.hart.flushTlb();
  }

  /** The load or store at sepc on device address `gpa`, done as the instruction says. */
  private mmio(gpa: number, write: boolean): void {
    const h = this.hart;
    const pc = Number(BigInt.asIntN(64, h.readCsr(Csr.sepc)!));
    const stval = h.readCsr(Csr.stval)!;
    const lo = h.readGuestParcel(pc);
    const hi = lo >= 0 && (lo & 3) === 3 ? h.readGuestParcel(pc + 2) : 0;
    const insn = lo < 0 || hi < 0 ? undefined : decodeMemInsn(lo, hi);
    const accessFault = write ? CAUSE_STORE_ACCESS : CAUSE_LOAD_ACCESS;
    if (!insn || insn.store !== write || regionAt(gpa) === undefined) {
      if (!insn) this.host.log('hw guest: an access to a device the monitor cannot decode: access fault', { pc: hex(pc), gpa: hex(gpa) });
      this.inject(accessFault, stval);
      return;
    }
    if (!doDeviceAccess(insn, gpa, h, this.host, this.out)) return this.inject(accessFault, stval);
    this.advance(insn.length);
  }

  /** A virtual-instruction trap: true for WFI (idled and counted as wfi). */
  private virtualInstruction(): boolean {
    const h = this.hart;
    const pc = Number(BigInt.asIntN(64, h.readCsr(Csr.sepc)!));
    const lo = h.readGuestParcel(pc);
    const hi = lo >= 0 ? h.readGuestParcel(pc + 2) : -1;
    const inst = lo >= 0 && hi >= 0 ? ((hi << 16) | lo) >>> 0 : -1;
    if (inst === INST_WFI) {
      this.advance(4);
      this.idle();
      return true;
    }
    // Anything else a VS kernel may not do (an HS CSR, HLV, HFENCE): an illegal
    // instruction to the guest, as KVM redirects it (the H extension is not offered).
    this.inject(CAUSE_ILLEGAL, inst >= 0 ? BigInt(inst) : 0n);
    return false;
  }

  /** WFI: sleep until a VS interrupt is pending and enabled, or the earliest timer. */
  private idle(): void {
    const t0 = performance.now();
    this.tick();
    const enabled = Number(this.hart.readCsr(Csr.mie)! & 0xffffn);
    if ((this.hart.getPendingInterrupts() & enabled & (VSSIP | VSTIP | VSEIP)) === 0) {
      this.host.idle(Math.min(this.sbiDeadline, this.hart.timerDeadline()));
      this.tick();
    }
    this.host.recordLocalExit(Reason.Wfi, performance.now() - t0);
  }

  // --- Helpers ---

  private advance(bytes: number): void {
    const h = this.hart;
    h.writeCsr(Csr.sepc, h.readCsr(Csr.sepc)! + BigInt(bytes));
  }

  /**
   * Gives the guest exception `cause` as if the hart had delegated it to VS-mode (priv
   * H 8.6.4, KVM's kvm_riscv_vcpu_trap_redirect): vsepc, vscause, vstval, vsstatus.SPP/
   * SPIE/SIE, and the return goes to vstvec in VS.
   */
  private inject(cause: number, tval: bigint): void {
    const h = this.hart;
    const vsstatus = h.readCsr(HCsr.vsstatus)!;
    const spp = (h.readCsr(HCsr.hstatus)! & HSTATUS_SPVP) !== 0n ? 1n : 0n;
    const sie = (vsstatus >> 1n) & 1n;
    let next = vsstatus & ~((1n << 8n) | (1n << 5n) | (1n << 1n));
    next |= (spp << 8n) | (sie << 5n);
    h.writeCsr(HCsr.vsstatus, next);
    h.writeCsr(HCsr.vsepc, h.readCsr(Csr.sepc)!);
    h.writeCsr(HCsr.vscause, BigInt(cause));
    h.writeCsr(HCsr.vstval, tval);
    h.writeCsr(Csr.sepc, h.readCsr(HCsr.vstvec)! & ~3n);
    // Back into VS (the guest's trap handler runs in VS whatever mode faulted).
    h.writeCsr(HCsr.hstatus, h.readCsr(HCsr.hstatus)! | HSTATUS_SPVP);
    h.writeCsr(Csr.sstatus, h.readCsr(Csr.sstatus)! | (1n << 8n));
  }

  private setHvip(bit: number, level: boolean): void {
    const h = this.hart;
    const v = h.readCsr(HCsr.hvip)!;
    const next = level ? v | BigInt(bit) : v & ~BigInt(bit);
    if (next !== v) h.writeCsr(HCsr.hvip, next);
  }

  private sbiHost(): SbiHost {
    return monitorSbiHost(this.init.hartId, this.host, this.ram, {
      setTimer: (deadline) => {
        this.setHvip(VSTIP, false);
        this.sbiDeadline = deadlineTicks(deadline);
        this.tick();
      },
      sendIpi: () => this.setHvip(VSSIP, true),
      flushTlb: () => this.hart.flushTlb(),
    });
  }
}

function hex(v: number | bigint): string {
  return '0x' + BigInt.asUintN(64, BigInt(v)).toString(16);
}
