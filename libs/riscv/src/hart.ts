// One RISC-V hart: `run(budget)` executes a bounded batch and says why it stopped, as
// KVM_RUN does with kvm_run.exit_reason (STYLE.md, 8). The cpu service calls it from a
// worker thread; tests and `splitvisor exec` call it directly.

import { DEFAULT_ENGINE, ENGINES, type Engine } from '@splitvisor/platform';
import { csrRead, csrWrite } from './csr.js';
import { bigIntToPair, pairToBigInt } from './int64.js';
import { executeBatch } from './executor.js';
import { COMPILE_BATCH, DEFAULT_MAX_BLOCKS, HOT_ENTRIES, executeTranslated } from './translate/index.js';
import type { TranslationCache, TranslationStats } from './translate/index.js';
import type { GuestRam, PhysBus } from './memory.js';
import { HartState, RomRegion } from './state.js';
import { pendingInterrupt, privilegeChanged, sstcDeadline, takeInterrupt, updateMip, updateSstc, xret } from './trap.js';
import { ACC_FETCH, translate } from './mmu/sv.js';
import { PRIV_S, PRIV_U } from './state.js';
import { setVirt } from './hypervisor/virt.js';

export type HartExit =
  /** The budget is spent. */
  | { readonly kind: 'budget' }
  /** WFI with nothing pending in mie; pc is past the WFI. Run again once an interrupt
   *  line rises (or on a timer), the hart resumes after it. */
  | { readonly kind: 'wfi' }
  /** stop() was called, from a bus callback or between runs. */
  | { readonly kind: 'stopped' }
  /** With monitorTraps: a trap entered a mode the host's monitor plays: HS or M on a hart
   *  with H (the trap entry is done: scause, sepc, stval, htval, hstatus.SPV as the spec
   *  says; the monitor resumes the guest with hsReturn(), as KVM's code at the HS vector
   *  would), M on a hart without (mcause, mepc, mtval; the monitor resumes with enterUser). */
  | { readonly kind: 'monitor-trap' }
  /** The hart cannot make progress: a trap loop, an unreachable trap vector. */
  | { readonly kind: 'fatal'; readonly reason: string };

export const EXIT_BUDGET: HartExit = Object.freeze({ kind: 'budget' });
export const EXIT_WFI: HartExit = Object.freeze({ kind: 'wfi' });
export const EXIT_STOPPED: HartExit = Object.freeze({ kind: 'stopped' });
export const EXIT_MONITOR_TRAP: HartExit = Object.freeze({ kind: 'monitor-trap' });

export interface HartOptions {
  hartId: number;
  ram: GuestRam;
  bus: PhysBus;
  /** Where the first instruction is fetched; also where reset() returns. */
  resetPc: number;
  /** Read-only regions outside RAM (the boot ROM), as addRom. */
  roms?: readonly { base: number; bytes: Uint8Array }[];
  /** The platform clock in 10 MHz ticks, as setTimeSource. */
  timeSource?: () => number;
  /** Build the hart with the H extension (misa.H, HS/VS/VU, two-stage translation).
   *  Default false: the M/S/U hart, unchanged. */
  h?: boolean;
  /** The host plays the modes above the guest (a hypervisor outside the hart, as the cpu
   *  service's monitors): every trap that would enter them ends run() with 'monitor-trap'
   *  instead of executing code at their vector. With h: HS and M (the guest runs in VS and
   *  VU: hw mode); without: M (the guest runs in U: trap-and-emulate). */
  monitorTraps?: boolean;
  /** How guest code runs: 'interp' (the interpreter, executor.ts: the reference) or
   *  'translate' (hot blocks compiled to WebAssembly or JavaScript, translate/). Default
   *  'interp'. */
  engine?: Engine;
  /** With 'translate': compiled blocks the code cache keeps before it is dropped whole
   *  (default DEFAULT_MAX_BLOCKS). */
  maxBlocks?: number;
  /** With 'translate': entries into a block before it is compiled (default HOT_ENTRIES;
   *  1 compiles every block the first time it runs, as the differential tests do). */
  hotEntries?: number;
  /** With 'translate' and RAM in a WebAssembly memory: hot blocks compiled together into
   *  one module (default COMPILE_BATCH; a batch is also compiled at the end of every
   *  run). 1 compiles each block as soon as it is hot, as the differential tests do. */
  compileBatch?: number;
}

export { ENGINES, type Engine };

/** Counters, updated at the end of every run(). */
export interface HartStats {
  /** Instructions retired (trapping instructions do not retire). */
  instret: number;
  /** Instructions attempted; also what mcycle counts (one per instruction). */
  cycles: number;
  /** Traps taken: exceptions + interrupts. */
  traps: number;
  exceptions: number;
  interrupts: number;
  /** Page-table walks (and PMP-checked physical lookups) the TLB did not answer. */
  walks: number;
  /** Whole-TLB flushes (satp writes, SFENCE.VMA without address, PMP writes). */
  tlbFlushes: number;
}

/** Words of a Hart.registersUnchanged snapshot. */
export const REGISTER_SNAPSHOT_WORDS = 66;

export class Hart {
  readonly hartId: number;
  readonly ram: GuestRam;
  readonly stats: HartStats = { instret: 0, cycles: 0, traps: 0, exceptions: 0, interrupts: 0, walks: 0, tlbFlushes: 0 };
  private s: HartState;
  private readonly resetPc: number;
  /** The code cache when the engine is 'translate'; null for the interpreter. */
  private readonly tc: TranslationCache | null;

  constructor(opts: HartOptions) {
    checkPc(opts.resetPc);
    this.hartId = opts.hartId;
    this.ram = opts.ram;
    this.resetPc = opts.resetPc;
    this.s = new HartState(opts.hartId, opts.ram, opts.bus, opts.h ?? false);
    this.s.pc = opts.resetPc;
    if (opts.monitorTraps) this.s.monitorTraps = true;
    for (const r of opts.roms ?? []) this.addRom(r.base, r.bytes);
    if (opts.timeSource !== undefined) this.setTimeSource(opts.timeSource);
    const engine = opts.engine ?? DEFAULT_ENGINE;
    if (!ENGINES.includes(engine)) throw new RangeError(`engine '${String(engine)}' is not one of ${ENGINES.join(', ')}`);
    this.tc =
      engine === 'translate'
        ? this.ram.code.useTranslations(
            opts.maxBlocks ?? DEFAULT_MAX_BLOCKS,
            opts.hotEntries ?? HOT_ENTRIES,
            opts.compileBatch ?? COMPILE_BATCH,
            this.ram.memory && this.ram.layout ? { memory: this.ram.memory, layout: this.ram.layout, base: this.ram.base, size: this.ram.size } : null,
          )
        : null;
  }

  /** Which engine runs guest code. */
  get engine(): Engine {
    return this.tc === null ? 'interp' : 'translate';
  }

  /** The code cache's counters (translate engine), or null for the interpreter. */
  translationStats(): Readonly<TranslationStats> | null {
    return this.tc === null ? null : this.tc.stats;
  }

  /**
   * Maps read-only bytes at `base` (outside RAM), e.g. the boot ROM at 0x1000 that the
   * cpu service builds: instructions are fetched and decoded from it once, loads read
   * it, stores to it are access faults. It takes precedence over the bus.
   */
  addRom(base: number, bytes: Uint8Array): void {
    if (!Number.isSafeInteger(base) || base < 0 || base % 4 !== 0) throw new RangeError(`ROM base ${base} must be a 4-aligned address`);
    const rom = new RomRegion(base, bytes);
    const ram = this.ram;
    if (base < ram.base + ram.size && ram.base < base + rom.size) throw new RangeError('ROM overlaps RAM');
    for (const r of this.s.roms) {
      if (base < r.base + r.size && r.base < base + rom.size) throw new RangeError('ROM overlaps another ROM');
    }
    this.s.roms.push(rom);
  }

  /**
   * Gives the hart its clock: `now()` returns the platform time in ticks of 10 MHz (the
   * virt machine's timebase), the value of the `time` CSR and of Sstc comparisons. Without
   * one, `time` is absent (illegal instruction) as on QEMU without an rdtime callback.
   */
  setTimeSource(now: () => number): void {
    this.s.timeSource = now;
  }

  /**
   * Reports every guest store to the RAM page holding `pa` (HTIF's tohost), whatever mode
   * and translation produced it: the check is on the physical page, as QEMU's HTIF is a
   * device over tohost's physical address. The page is kept below Modified for good
   * (GuestRam.keepShared), also after a load or a walk refilled it, so such stores leave
   * the fast path even through a TLB entry that allows writing; `onStore` runs during the
   * store, after the bytes are written, and may call stop(). One watcher per hart.
   */
  watchStores(pa: number, onStore: (pa: number, size: number, lo: number, hi: number) => void): void {
    const page = this.ram.pageOf(pa);
    if (page < 0) throw new RangeError(`watchStores: 0x${pa.toString(16)} is not in RAM`);
    const s = this.s;
    if (s.watchPage === null) s.watchPage = new Uint8Array(this.ram.pageState.length);
    s.watchPage[page] = 1;
    this.ram.keepShared(page);
    s.storeWatch = onStore;
  }

  /** Reads of the `time` CSR so far (the guest's own, in any mode). */
  get timeReads(): number {
    return this.s.timeReads;
  }

  /** When (in time-source ticks) the Sstc timer will next raise STIP; Infinity when it
   *  is off or already pending. A platform idling in WFI sleeps until min(this, mtimecmp). */
  timerDeadline(): number {
    return sstcDeadline(this.s);
  }

  /**
   * Executes up to `budget` instructions. Every instruction attempted counts, also one
   * that traps, so a trapping loop still ends. Interrupts pending and enabled are taken
   * between instructions (at the start of the run, after anything that may change them).
   */
  run(budget: number): HartExit {
    const s = this.s;
    let left = budget;
    try {
      for (;;) {
        if (s.fatal !== null) return { kind: 'fatal', reason: s.fatal };
        if (s.stopReq) {
          s.stopReq = false;
          return EXIT_STOPPED;
        }
        if (s.monitorTrap) {
          s.monitorTrap = false;
          return EXIT_MONITOR_TRAP;
        }
        if (s.wfiExit) {
          s.wfiExit = false;
          return EXIT_WFI;
        }
        if (s.mipTimer !== 0 || s.menvcfgHi !== 0) updateSstc(s);
        const irq = pendingInterrupt(s);
        if (irq >= 0) takeInterrupt(s, irq);
        if (left <= 0) return EXIT_BUDGET;
        s.brk = false;
        left -= this.tc === null ? executeBatch(s, left) : executeTranslated(s, this.tc, left);
      }
    } finally {
      this.updateStats();
    }
  }

  /** Makes run() return 'stopped' after the current instruction. Called between runs,
   *  the next run() returns 'stopped' before executing anything. */
  stop(): void {
    this.s.stopReq = true;
    this.s.brk = true;
  }

  /** Drives an interrupt line into mip (bit = Irq.MSI, Irq.MTI, Irq.MEI...). Level
   *  semantics: the bit stays set until the source lowers it. Safe to call from a bus
   *  callback during run(): the hart looks after the current instruction. */
  setPendingInterrupt(bit: number, level: boolean): void {
    const s = this.s;
    const m = 1 << bit;
    s.mipHw = level ? s.mipHw | m : s.mipHw & ~m;
    updateMip(s);
  }

  getPendingInterrupts(): number {
    return this.s.mip;
  }

  /** Back to the reset state: registers and CSRs cleared, pc = resetPc, M-mode.
   *  Decoded code stays (it is keyed by physical page, not by hart). */
  reset(): void {
    const old = this.s;
    const s = new HartState(old.hartId, old.ram, old.bus, old.h !== null);
    s.pc = this.resetPc;
    // The platform's wiring survives a reset: ROMs, clock, watched pages, input lines.
    s.roms.push(...old.roms);
    s.timeSource = old.timeSource;
    s.watchPage = old.watchPage;
    s.storeWatch = old.storeWatch;
    s.mipHw = old.mipHw;
    updateMip(s);
    this.s = s;
    this.updateStats();
  }

  getPc(): number {
    return this.s.pc;
  }

  setPc(pc: number): void {
    checkPc(pc);
    this.s.pc = pc;
  }

  /** Current privilege mode: 0 = U, 1 = S, 3 = M (with V=1, VU and VS). */
  getPrivilege(): number {
    return this.s.priv;
  }

  /** The V bit (H extension): 1 in VS and VU. Always 0 on a hart without H. */
  getVirt(): number {
    return this.s.virt;
  }

  /**
   * Whether x1..x31, pc and the privilege are what `snap` holds, then stores them there
   * (`snap`: REGISTER_SNAPSHOT_WORDS words). Allocation-free: a host asks whether a loop
   * it saw twice changed anything of the hart's own (a counter), or only looked.
   */
  registersUnchanged(snap: Int32Array): boolean {
    const { xl, xh } = this.s;
    let same = true;
    for (let i = 1; i < 32; i++) {
      if (snap[i] !== xl[i] || snap[32 + i] !== xh[i]) same = false;
      snap[i] = xl[i]!;
      snap[32 + i] = xh[i]!;
    }
    if (snap[64] !== (this.s.pc | 0) || snap[65] !== Math.floor(this.s.pc / 2 ** 32) || snap[0] !== this.s.priv) same = false;
    snap[64] = this.s.pc | 0;
    snap[65] = Math.floor(this.s.pc / 2 ** 32);
    snap[0] = this.s.priv;
    return same;
  }

  /** x[i] as a signed 64-bit value (tests, debugger). */
  getReg(i: number): bigint {
    checkReg(i);
    return i === 0 ? 0n : pairToBigInt(this.s.xl[i]!, this.s.xh[i]!);
  }

  setReg(i: number, v: bigint): void {
    checkReg(i);
    if (i === 0) return;
    const [lo, hi] = bigIntToPair(v);
    this.s.xl[i] = lo;
    this.s.xh[i] = hi;
  }

  /** A CSR's value as the guest would read it in M-mode, or undefined if absent. */
  readCsr(csr: number): bigint | undefined {
    if (!csrRead(this.s, csr)) return undefined;
    return pairToBigInt(this.s.csrLo, this.s.csrHi);
  }

  /** Writes a CSR with the guest's WARL rules (no read-only or privilege check: this is
   *  the debugger's door). Returns false if the CSR does not exist. */
  writeCsr(csr: number, v: bigint): boolean {
    if (!csrRead(this.s, csr)) return false;
    const [lo, hi] = bigIntToPair(v);
    csrWrite(this.s, csr, lo, hi, 0);
    return true;
  }

  // --- The host's HS-mode (monitorTraps): what a hypervisor's code at the HS vector does ---

  /** Enters VS-mode at `pc` from wherever the hart is (M at reset): V = 1, privilege S,
   *  as an SRET with hstatus.SPV = 1 and sstatus.SPP = S would. */
  enterVirtualSupervisor(pc: number): void {
    checkPc(pc);
    const s = this.s;
    if (s.h === null) throw new RangeError('enterVirtualSupervisor: the hart has no H extension');
    s.priv = PRIV_S;
    setVirt(s, 1);
    privilegeChanged(s);
    s.pc = pc;
    s.brk = true;
  }

  /** SRET from HS-mode after an 'monitor-trap': back to the mode hstatus.SPV and sstatus.SPP
   *  say, at sepc (priv H 8.6.4). False if the hart is not in HS-mode. */
  hsReturn(): boolean {
    const s = this.s;
    if (s.h === null || s.virt !== 0 || s.priv !== PRIV_S) return false;
    s.lastTrapTarget = Number.NaN;
    return xret(s, true);
  }

  /**
   * Reads the 16-bit instruction parcel at guest virtual address `va` as the guest's fetch
   * would see it (VS-stage, then G-stage, as HLVX.HU at hstatus.SPVP), without raising
   * anything: the parcel, or -1 when it cannot be read (no mapping, not RAM). For a
   * monitor decoding the instruction of a trap when htinst is 0.
   */
  readGuestParcel(va: number): number {
    const s = this.s;
    if (s.h === null) return -1;
    const priv = (s.h.hstatus >>> 8) & 1;
    const pa = translate(s, va, 2, ACC_FETCH, priv, 1);
    if (pa < 0) return -1;
    const off = pa - s.ram.base;
    if (!(off >= 0 && off + 2 <= s.ram.size)) return -1;
    if (s.ram.pageState[off >>> 12] === 0 && !s.ram.miss(off >>> 12, false)) return -1;
    return s.ram.u16[off >>> 1]!;
  }

  /** Resumes the guest in U-mode at `pc` after a 'monitor-trap' into M (trap-and-emulate:
   *  the guest kernel runs in real U-mode; the monitor keeps its virtual privilege). */
  enterUser(pc: number): void {
    checkPc(pc);
    const s = this.s;
    s.priv = PRIV_U;
    s.lastTrapTarget = Number.NaN;
    privilegeChanged(s);
    s.pc = pc;
  }

  /**
   * Where the tables satp points to live when they are not in guest RAM: a monitor's
   * shadow page tables (trap-and-emulate), in memory the guest cannot map. Walks with V=0
   * then read this memory; the leaves still point into RAM. null: the tables are in guest
   * RAM again (direct paging, pv).
   */
  setPageTableRam(ram: GuestRam | null): void {
    const s = this.s;
    if (ram === null) {
      s.satpRam = null;
      this.flushTlb();
      return;
    }
    if (ram.base < s.ram.base + s.ram.size && s.ram.base < ram.base + ram.size) throw new RangeError('page-table memory overlaps guest RAM');
    s.satpRam = ram;
  }

  /** Where the G-stage tables live (see HState.tableRam): memory outside guest RAM. */
  setGStageTableRam(ram: GuestRam): void {
    const s = this.s;
    if (s.h === null) throw new RangeError('setGStageTableRam: the hart has no H extension');
    if (ram.base < s.ram.base + s.ram.size && s.ram.base < ram.base + ram.size) throw new RangeError('G-stage table memory overlaps guest RAM');
    s.h.tableRam = ram;
  }

  /** Drops every cached translation (HFENCE.GVMA with no operands; also covers
   *  HFENCE.VVMA and SFENCE.VMA): after a monitor changed G-stage tables. */
  flushTlb(): void {
    const s = this.s;
    s.tlb.flushAll();
    s.brk = true;
  }

  /** Drops every decoded instruction of the RAM this hart runs on. */
  flushDecodeCache(): void {
    this.ram.code.flushAll();
  }

  private updateStats(): void {
    const s = this.s;
    const st = this.stats;
    st.instret = s.instret;
    st.cycles = s.cycles;
    st.exceptions = s.exceptions;
    st.interrupts = s.interrupts;
    st.traps = s.exceptions + s.interrupts;
    st.walks = s.walks;
    st.tlbFlushes = s.tlb.flushes;
  }
}

function checkReg(i: number): void {
  if (!Number.isInteger(i) || i < 0 || i > 31) throw new RangeError(`no register x${i}`);
}

function checkPc(pc: number): void {
  if (!Number.isSafeInteger(pc)) throw new RangeError(`pc ${pc} is not an exact integer address`);
}
