// Architectural state of one hart plus the scratch the engine needs, as plain fields so
// V8 keeps one hidden class for it. 64-bit registers and CSRs are (lo, hi) int32 pairs.
//
// The pc is a double holding the signed 64-bit value: exact for |pc| < 2^53, which covers
// every physical address of the machine and the sign-extended Sv39/Sv48 virtual ones that
// issue 3 brings. Control transfers to a value outside that range fault where they
// happen, with the exact 64-bit address in mepc/mtval (see trap.ts).

import { SINK, SLOT_WORDS } from './decoder.js';
import type { GuestRam, PhysBus } from './memory.js';

export const PRIV_U = 0;
export const PRIV_S = 1;
export const PRIV_M = 3;

export class HartState {
  /** x1..x31 low and high words; index 0 reads as zero, index SINK absorbs writes to x0. */
  readonly xl = new Int32Array(SINK + 1);
  readonly xh = new Int32Array(SINK + 1);
  pc = 0;
  priv = PRIV_M;
  readonly hartId: number;
  readonly ram: GuestRam;
  readonly bus: PhysBus;

  // --- Machine-mode CSRs (csr.ts gives them their WARL behaviour) ---
  mstatusMie = 0;
  mstatusMpie = 0;
  mstatusMpp = PRIV_M;
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
  /** Pending interrupt bits: set by the platform (CLINT, PLIC) through the Hart API. */
  mip = 0;
  /** A counter CSR reads as base + (count now - count when base was written). */
  mcycleBaseLo = 0;
  mcycleBaseHi = 0;
  mcycleBaseAt = 0;
  minstretBaseLo = 0;
  minstretBaseHi = 0;
  minstretBaseAt = 0;

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
  fatal: string | null = null;

  // --- Trap-loop detection (trap.ts) ---
  lastTrapTarget = Number.NaN;
  lastTrapCause = -1;
  lastTvalLo = 0;
  lastTvalHi = 0;

  // --- Scratch, so nothing on the hot path allocates ---
  /** Block the executor fetches from after fetchLookup (see mem-access.ts). */
  fBlk: Int32Array;
  fBase = 0;
  fLen = 0;
  /** One decoded slot for instructions fetched over the bus (boot ROM). */
  readonly busBlk = new Int32Array(SLOT_WORDS);
  readonly busOut = new Int32Array(2);
  /** Result of csrRead. */
  csrLo = 0;
  csrHi = 0;

  constructor(hartId: number, ram: GuestRam, bus: PhysBus) {
    this.hartId = hartId;
    this.ram = ram;
    this.bus = bus;
    this.fBlk = this.busBlk;
  }
}
