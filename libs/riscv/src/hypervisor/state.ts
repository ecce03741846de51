// State of the H extension (ratified H 1.0, privileged spec 1.12 ch. 8): the hypervisor
// CSRs, and the VS copies of the supervisor registers. Present only on a hart built with
// `h: true` (HartState.h), so the default hart keeps its hidden class and its CSR file.
//
// The swap (as QEMU's riscv_cpu_swap_hypervisor_regs): the supervisor fields of HartState
// (sstatus' bits, stvec, sscratch, sepc, scause, stval, satp) always hold the registers
// the running mode sees as "S". With V=1 those are the VS registers, and HS's own values
// wait here; with V=0 HS's are in HartState and the VS registers wait here. So the trap,
// SRET and Sv39 code of an M/S/U hart serve VS-mode unchanged, and an S-CSR access with
// V=1 reaches the VS register by construction (priv H 8.2.1 "the VS CSRs substitute").

import type { GuestRam } from '../memory.js';

export const HSTATUS_GVA = 1 << 6;
export const HSTATUS_SPV = 1 << 7;
export const HSTATUS_SPVP = 1 << 8;
export const HSTATUS_HU = 1 << 9;
export const HSTATUS_VTVM = 1 << 20;
export const HSTATUS_VTW = 1 << 21;
export const HSTATUS_VTSR = 1 << 22;
/** The writable bits of hstatus' low word (VSBE is 0: little-endian only; VGEIN is 0: GEILEN = 0). */
export const HSTATUS_WRITABLE = HSTATUS_GVA | HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_HU | HSTATUS_VTVM | HSTATUS_VTW | HSTATUS_VTSR;
/** hstatus.VSXL = 2 (VS-mode is 64-bit, fixed): bits 33:32. */
export const HSTATUS_HI_VSXL = 2;

/** hgatp.MODE values (priv H 8.2.18). */
export const HGATP_BARE = 0;
export const HGATP_SV39X4 = 8;
export const HGATP_SV48X4 = 9;

export class HState {
  /** hstatus, low word (the high word is VSXL, fixed). */
  hstatus = 0;
  hedeleg = 0;
  hideleg = 0;
  hcounteren = 0;
  htimedeltaLo = 0;
  htimedeltaHi = 0;
  htvalLo = 0;
  htvalHi = 0;
  htinstLo = 0;
  htinstHi = 0;
  /** henvcfg: FIOM (bit 0) low, STCE (bit 63) as bit 31 of the high word. */
  henvcfgLo = 0;
  henvcfgHi = 0;
  /** hgatp: MODE 63:60, VMID 57:44, PPN 43:0 (bits 1:0 of PPN read as zero). */
  hgatpLo = 0;
  hgatpHi = 0;
  /** mstatus.MPV (bit 39) and mstatus.GVA (bit 38). */
  mpv = 0;
  gva = 0;
  mtval2Lo = 0;
  mtval2Hi = 0;
  mtinstLo = 0;
  mtinstHi = 0;
  vstimecmpLo = -1;
  vstimecmpHi = -1;

  /** Where the G-stage tables live when not in the hart's RAM: a hypervisor in the host
   *  (the cpu's hw monitor) keeps them in its own memory, out of every guest mapping.
   *  hgatp's PPN then points into this range; null = the tables are in guest RAM. */
  tableRam: GuestRam | null = null;

  // --- The set of supervisor registers not in use now (see the swap above) ---
  bkSie = 0;
  bkSpie = 0;
  bkSpp = 0;
  bkFs = 0;
  bkSum = 0;
  bkMxr = 0;
  bkStvecLo = 0;
  bkStvecHi = 0;
  bkSscratchLo = 0;
  bkSscratchHi = 0;
  bkSepcLo = 0;
  bkSepcHi = 0;
  bkScauseLo = 0;
  bkScauseHi = 0;
  bkStvalLo = 0;
  bkStvalHi = 0;
  bkSatpLo = 0;
  bkSatpHi = 0;

  // --- What the next trap entry reports beyond cause/epc/tval (set where a fault is
  //     found, consumed and cleared by the trap entry) ---
  /** The faulting guest-physical address of a guest-page fault, or -1. */
  trapGpa = -1;
  /** That fault was the VS-stage walk's own read of a PTE (an implicit access). */
  trapImplicit = false;
  /** The access was an HLV/HSV (a guest virtual address although V=0). */
  trapHlv = false;
  /** An HLVX is translating: reads need execute permission. */
  hlvx = false;
}
