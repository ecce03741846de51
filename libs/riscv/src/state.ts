// Architectural state of one hart plus the scratch the engine needs, as plain fields so
// V8 keeps one hidden class for it. 64-bit registers and CSRs are (lo, hi) int32 pairs.
//
// Addresses as numbers (the VA representation): the pc, a virtual address being
// translated and a physical address are doubles holding the SIGNED 64-bit value. That is
// exact for |v| < 2^53, which covers every physical address of the machine and every
// canonical Sv39/Sv48 virtual address (bits 63..38 or 63..47 copies of one bit, so
// |va| < 2^47): the kernel half 0xffffffc0_00000000.. is simply a negative number
// (-2^38..), and page arithmetic (floor, & 4095 on the low word) works unchanged on it.
// A value outside +-2^53 is never rounded into a mapping: registers keep exact (lo, hi)
// pairs, and an access or jump to such a value faults where it happens, with the exact
// 64-bit address in xepc/xtval (see trap.ts and mem-access.ts).

import { SINK, SLOT_WORDS } from './decoder.js';
import { SLOTS_PER_PAGE } from './decode-cache.js';
import type { GuestRam, PhysBus } from './memory.js';
import { Tlb, type TlbSet } from './mmu/tlb.js';
import { HState } from './hypervisor/state.js';
import { EXIT_AT, EXIT_BLOCK_PC_AT, EXIT_NPC_AT, HART_AREA, TLB_AT, WASM_HARTS, XH_AT } from './wasm-memory.js';

/** menvcfg.STCE (Sstc enable, bit 63) as a bit of menvcfgHi. */
export const MENVCFG_STCE_HI = 0x80000000 | 0;

export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

/** mideleg bits that are read-only one with H: VSSI, VSTI, VSEI, SGEI (priv H 8.2.3). */
export const MIDELEG_H_FIXED = (1 << 2) | (1 << 6) | (1 << 10) | (1 << 12);

export class HartState {
  /** x1..x31 low and high words; index 0 reads as zero, index SINK absorbs writes to x0. */
  readonly xl: Int32Array;
  readonly xh: Int32Array;
  /** Byte offset of this hart's area in RAM's WebAssembly memory (wasm-memory.ts: xl, xh
   *  and the exit words of WebAssembly blocks), or -1 when RAM is not in one. */
  readonly wasmAt: number;
  /** The exit words of that area (EXIT_AT), its next-pc double and the dispatcher's
   *  block pc (wasm-memory.ts); arrays of their own when none. */
  readonly exitWords: Int32Array;
  readonly exitNpc: Float64Array;
  readonly exitBlockPc: Float64Array;
  pc = 0;
  priv = PRIV_M;
  /** The V bit of the H extension: 1 while in VS or VU (priv then says which). */
  virt = 0;
  /** H extension state; null on a hart without H (then virt stays 0). */
  readonly h: HState | null;
  readonly hartId: number;
  readonly ram: GuestRam;
  readonly bus: PhysBus;

  // --- mstatus, one field per member (csr.ts assembles the register and its sstatus
  //     view; every field is 0/1 except MPP and FS) ---
  mstatusMie = 0;
  mstatusMpie = 0;
  mstatusMpp = PRIV_M;
  mstatusSie = 0;
  mstatusSpie = 0;
  mstatusSpp = 0;
  /** FP state: 0 Off, 1 Initial, 2 Clean, 3 Dirty. FP instructions are illegal while 0
   *  and set it to 3 when they write FP state (the F/D engine owns that rule). */
  mstatusFs = 0;
  mstatusMprv = 0;
  mstatusSum = 0;
  mstatusMxr = 0;
  mstatusTvm = 0;
  mstatusTw = 0;
  mstatusTsr = 0;

  // --- Machine-mode CSRs (csr.ts gives them their WARL behaviour) ---
  mtvecLo = 0;
  mtvecHi = 0;
  mepcLo = 0;
  mepcHi = 0;
  mcauseLo = 0;
  mcauseHi = 0;
  mtvalLo = 0;
  mtvalHi = 0;
  mscratchLo = 0;
  mscratchHi = 0;
  mie = 0;
  /** Pending interrupt bits as the hart sees them: mipHw | mipSw | the Sstc timer. Kept
   *  up to date by updateMip (trap.ts) whenever one of its sources changes. */
  mip = 0;
  /** Lines driven by the platform (CLINT MSIP/MTIP, PLIC MEIP/SEIP) through the Hart API. */
  mipHw = 0;
  /** Bits written by software: SSIP, STIP, and the software half of SEIP (priv 3.1.9). */
  mipSw = 0;
  /** STIP from Sstc (time >= stimecmp while menvcfg.STCE). */
  mipTimer = 0;
  /** Exceptions (bits < 32) and interrupts delegated to S-mode. */
  medeleg = 0;
  mideleg = 0;
  /** Counter-enable masks (32 bits): CY, TM, IR, HPM3..31 for the mode below. */
  mcounteren = 0;
  scounteren = 0;
  /** Bit 0 CY and bit 2 IR freeze mcycle/minstret (bit 1 is read-only zero). */
  mcountinhibit = 0;
  /** menvcfg: FIOM (bit 0) in the low word, STCE (bit 63) as bit 31 of the high word. */
  menvcfgLo = 0;
  menvcfgHi = 0;
  senvcfg = 0;

  // --- Supervisor-mode CSRs ---
  stvecLo = 0;
  stvecHi = 0;
  sepcLo = 0;
  sepcHi = 0;
  scauseLo = 0;
  scauseHi = 0;
  stvalLo = 0;
  stvalHi = 0;
  sscratchLo = 0;
  sscratchHi = 0;
  /** satp: MODE in bits 63:60, ASID 59:44, PPN 43:0. */
  satpLo = 0;
  satpHi = 0;
  /** Sstc comparator; all ones at reset so no timer fires before software sets it. */
  stimecmpLo = -1;
  stimecmpHi = -1;

  // --- PMP (priv 3.7): 16 entries, as QEMU's virt machine has ---
  /** pmpNcfg bytes (L, A, X, W, R). */
  readonly pmpCfg = new Uint8Array(16);
  /** pmpaddrN: bits 55:2 of an address, 54 bits, as (lo, hi) words. */
  readonly pmpAddrLo = new Int32Array(16);
  readonly pmpAddrHi = new Int32Array(16);
  /** Byte range [pmpLo, pmpHi) each entry matches (empty when off), from pmpUpdate;
   *  bounds at or above 2^53 (no physical access reaches them) are clamped to 2^53. */
  readonly pmpLo = new Float64Array(16);
  readonly pmpHi = new Float64Array(16);
  /** Some entry is locked, so M-mode accesses are checked too. */
  pmpLocked = false;
  /** Some entry is active (A != OFF). */
  pmpActive = false;

  // --- Address translation (mmu/): which accesses go through the TLB, and which of
  //     its sets (one per privilege and SUM; see mmu/tlb.ts) they use ---
  readonly tlb: Tlb;
  /** Effective privilege of loads and stores: mstatus.MPP when in M with MPRV set. */
  dPriv = PRIV_M;
  /** The V of loads and stores (H: V, or MPV under MPRV); 0 on a hart without H. */
  dVirt = 0;
  /** Loads and stores translate (or need PMP checks): effective privilege < M, or a
   *  locked PMP entry exists. When false a data address is a physical one. */
  dataVm = false;
  /** Instruction fetches translate (or need PMP checks). */
  fetchVm = false;
  /** The TLB set loads and stores use (by effective privilege, MPRV applied). */
  dSet: TlbSet;
  /** The TLB set fetches use (by current privilege). */
  fSet: TlbSet;

  /** Reads the platform's clock in 10 MHz ticks (`time`, CLINT mtime); absent = no
   *  `time` CSR, as QEMU without an rdtime callback. */
  timeSource: (() => number) | null = null;
  /** Reads of the `time` CSR the guest made (not the hart's own Sstc checks): a host that
   *  sees a polling loop asks whether the loop looks at the clock (cpu's poll-idle). */
  timeReads = 0;
  /** Read-only regions that are not RAM (boot ROM): fetch and load hit, stores fault. */
  readonly roms: RomRegion[] = [];
  /** Per RAM page: 1 when stores to it must be seen by `storeWatch` (HTIF tohost). Such a
   *  page is kept below Modified so the executor's store fast path misses on it. */
  watchPage: Uint8Array | null = null;
  storeWatch: ((pa: number, size: number, lo: number, hi: number) => void) | null = null;
  /** A counter CSR reads as base + (count now - count when base was written). */
  mcycleBaseLo = 0;
  mcycleBaseHi = 0;
  mcycleBaseAt = 0;
  minstretBaseLo = 0;
  minstretBaseHi = 0;
  minstretBaseAt = 0;

  // --- F and D (isa/fd): f0..f31 as raw bits, low word at 2i and high word at 2i + 1 (a
  //     single is NaN-boxed: high word all ones), and the same bytes as doubles for
  //     arithmetic on values that are not NaN ---
  readonly fw = new Int32Array(64);
  readonly fd = new Float64Array(this.fw.buffer);
  /** fcsr fields: rounding mode (3 bits) and accrued exception flags (5 bits). */
  frm = 0;
  fflags = 0;

  // --- A (isa/a): the LR reservation, physical address (-1: none), size, and the
  //     value LR read (SC also fails if memory no longer holds it: another hart wrote) ---
  resAddr = -1;
  resSize = 0;
  resLo = 0;
  resHi = 0;

  // --- Counters. Valid between batches; the executor brings them up to date before a
  //     CSR instruction (the only thing that can read them mid-batch). ---
  /** Retired instructions (an instruction that raises an exception does not retire). */
  instret = 0;
  /** Instructions attempted, retired or not: one cycle each. */
  cycles = 0;
  exceptions = 0;
  interrupts = 0;

  // --- Run-loop signalling ---
  /** Set by anything that must end the current batch: stop(), a fatal trap loop, WFI,
   *  a change to interrupt state. The executor tests it after every slow path. */
  brk = false;
  stopReq = false;
  wfiExit = false;
  /** A monitor in the host plays the modes above the guest (HartOptions.monitorTraps): a
   *  trap that enters them sets monitorTrap and ends the run, which returns 'monitor-trap'
   *  (trap.ts, hypervisor/trap.ts). */
  monitorTraps = false;
  monitorTrap = false;
  fatal: string | null = null;
  /** The memory satp's tables are in, when not guest RAM (Hart.setPageTableRam). */
  satpRam: GuestRam | null = null;

  // --- Trap-loop detection (trap.ts) ---
  lastTrapTarget = Number.NaN;
  lastTrapCause = -1;
  lastTvalLo = 0;
  lastTvalHi = 0;

  // --- Scratch, so nothing on the hot path allocates ---
  /** Block the executor fetches from after fetchLookup (see mem-access.ts). */
  fBlk: Int32Array;
  /** Virtual address of fBlk's first slot, and how many bytes it covers. */
  fBase = 0;
  fLen = 0;
  /** Where fBlk's bytes live: a byte offset into RAM, or into fRom when that is set. */
  fPhysOff = 0;
  fRom: RomRegion | null = null;
  /** Page-table walks done (TLB misses and uncached accesses), for stats. */
  walks = 0;
  /** One decoded slot for instructions fetched over the bus (boot ROM). */
  readonly busBlk = new Int32Array(SLOT_WORDS);
  readonly busOut = new Int32Array(2);
  /** Result of csrRead. */
  csrLo = 0;
  csrHi = 0;

  constructor(hartId: number, ram: GuestRam, bus: PhysBus, h = false) {
    this.h = h ? new HState() : null;
    const lay = ram.layout;
    const inWasm = lay !== null && ram.memory !== null && hartId >= 0 && hartId < WASM_HARTS;
    this.wasmAt = inWasm ? lay.hartsAt + hartId * HART_AREA : -1;
    this.tlb = inWasm ? new Tlb(h, ram.memory!.buffer, this.wasmAt + TLB_AT) : new Tlb(h);
    if (h) this.mideleg = MIDELEG_H_FIXED;
    this.hartId = hartId;
    this.ram = ram;
    if (this.wasmAt >= 0) {
      const buf = ram.memory!.buffer;
      this.xl = new Int32Array(buf, this.wasmAt, SINK + 1);
      this.xh = new Int32Array(buf, this.wasmAt + XH_AT, SINK + 1);
      this.xl.fill(0);
      this.xh.fill(0);
      this.exitWords = new Int32Array(buf, this.wasmAt + EXIT_AT, 8);
      this.exitNpc = new Float64Array(buf, this.wasmAt + EXIT_NPC_AT, 1);
      this.exitBlockPc = new Float64Array(buf, this.wasmAt + EXIT_BLOCK_PC_AT, 1);
    } else {
      this.xl = new Int32Array(SINK + 1);
      this.xh = new Int32Array(SINK + 1);
      this.exitWords = new Int32Array(8);
      this.exitNpc = new Float64Array(1);
      this.exitBlockPc = new Float64Array(1);
    }
    this.bus = bus;
    this.fBlk = this.busBlk;
    this.dSet = this.tlb.sets[3]!;
    this.fSet = this.tlb.sets[3]!;
  }
}

/** A read-only region outside RAM, decoded once (its bytes never change). */
export class RomRegion {
  readonly base: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  /** Little-endian 32-bit view, for fetch. */
  readonly s32: Int32Array;
  /** Decoded blocks per 4 KiB page of the region. */
  readonly blocks: Int32Array[];

  constructor(base: number, bytes: Uint8Array) {
    this.base = base;
    // Padded to whole pages so every fetch slot has bytes behind it (zeros decode illegal).
    this.size = Math.ceil(bytes.length / 4096) * 4096;
    this.bytes = new Uint8Array(this.size);
    this.bytes.set(bytes);
    this.s32 = new Int32Array(this.bytes.buffer);
    this.blocks = Array.from({ length: this.size / 4096 }, () => new Int32Array(SLOTS_PER_PAGE * SLOT_WORDS));
  }
}
