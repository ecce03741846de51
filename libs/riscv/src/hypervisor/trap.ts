// Traps and xRET on a hart with H (priv H 8.4-8.6): two-level delegation (medeleg then
// hedeleg, mideleg then hideleg), trap entry into M, HS or VS with what each records of
// V, SRET/MRET returning to V=1, interrupt selection across M, HS and VS levels, and the
// privileged instructions' virtual-instruction cases. trap.ts calls in here only when
// HartState.h is set, so a hart without H runs the code it always ran.

import { Cause } from '../cause.js';
import { pairToBigInt } from '../int64.js';
import { EPC_MASK } from '../misa.js';
import { MENVCFG_STCE_HI, PRIV_M, PRIV_S, PRIV_U, type HartState } from '../state.js';
import { HSTATUS_GVA, HSTATUS_SPV, HSTATUS_SPVP, HSTATUS_VTSR, HSTATUS_VTVM, HSTATUS_VTW } from './state.js';
import { setVirt } from './virt.js';

/** Exceptions whose xtval is an address (misaligned, access, page and guest-page faults):
 *  with V=1 (or from HLV/HSV) that address is a guest virtual one, so GVA is set. */
/** The pseudoinstruction for a 64-bit read of VS-stage address translation (RV64). */
const PSEUDO_VS_READ64 = 0x00003000;

const ADDRESS_CAUSES = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 12) | (1 << 13) | (1 << 15) | (0xb << 20);

/**
 * The register updates of trap entry with H; the caller then jumps to the vector of the
 * mode this left the hart in (s.stvec is VS's or HS's by the swap). Returns the cause
 * code as recorded, which for a VS-level interrupt taken in VS is one less (2/6/10 are
 * seen by VS-mode as 1/5/9, priv H 8.2.12).
 */
export function hEnterTrap(
  s: HartState,
  code: number,
  causeHi: number,
  epcLo: number,
  epcHi: number,
  tvalLo: number,
  tvalHi: number,
  interrupt: boolean,
): number {
  const h = s.h!;
  const v = s.virt;
  const p = s.priv;
  const gpa = h.trapGpa;
  const hlv = h.trapHlv;
  // htinst/mtinst (priv 1.12 ch. 8, "Transformed Instruction or Pseudoinstruction for
  // mtinst or htinst"): zero, except the pseudoinstruction for a guest-page fault of the
  // VS-stage walk's own PTE read, "64-bit read for VS-stage address translation" on RV64,
  // which tells the hypervisor the GPA in htval is a page table's, not the access's.
  const tinst = gpa >= 0 && h.trapImplicit ? PSEUDO_VS_READ64 : 0;
  h.trapGpa = -1;
  h.trapHlv = false;
  h.trapImplicit = false;
  const gva = !interrupt && ((ADDRESS_CAUSES >>> code) & 1) !== 0 && (v !== 0 || hlv) ? 1 : 0;
  const mDeleg = ((interrupt ? s.mideleg : s.medeleg) >>> code) & 1;
  const hDeleg = ((interrupt ? h.hideleg : h.hedeleg) >>> code) & 1;
  // The GPA is recorded shifted right by 2 (priv H 8.2.11), so it fits in XLEN for
  // guest physical addresses of up to XLEN + 2 bits.
  const gLo = gpa >= 0 ? (Math.floor(gpa / 4) % 4294967296) | 0 : 0;
  const gHi = gpa >= 0 ? Math.floor(gpa / 17179869184) | 0 : 0;
  let recorded = code;
  if (p !== PRIV_M && mDeleg !== 0) {
    if (v !== 0 && hDeleg !== 0) {
      // Into VS-mode: the S fields are VS's (V stays 1).
      if (interrupt && (code === 2 || code === 6 || code === 10)) recorded = code - 1;
    } else {
      if (v !== 0) {
        // A monitor in the host plays HS (Hart monitorTraps): the run ends here, at HS's entry.
        if (s.monitorTraps) {
          s.monitorTrap = true;
          s.brk = true;
        }
        setVirt(s, 0);
        h.hstatus = (h.hstatus & ~HSTATUS_SPVP) | HSTATUS_SPV | (p << 8);
      } else {
        h.hstatus &= ~HSTATUS_SPV;
      }
      h.hstatus = gva !== 0 ? h.hstatus | HSTATUS_GVA : h.hstatus & ~HSTATUS_GVA;
      h.htvalLo = gLo;
      h.htvalHi = gHi;
      // No transformed instruction is reported: zero is always allowed for those.
      h.htinstLo = tinst;
      h.htinstHi = 0;
    }
    s.sepcLo = epcLo & EPC_MASK;
    s.sepcHi = epcHi;
    s.scauseLo = recorded;
    s.scauseHi = causeHi;
    s.stvalLo = tvalLo;
    s.stvalHi = tvalHi;
    s.mstatusSpie = s.mstatusSie;
    s.mstatusSie = 0;
    s.mstatusSpp = p;
    s.priv = PRIV_S;
  } else {
    if (s.monitorTraps) {
      s.monitorTrap = true;
      s.brk = true;
    }
    h.mpv = v;
    h.gva = gva;
    setVirt(s, 0);
    h.mtval2Lo = gLo;
    h.mtval2Hi = gHi;
    h.mtinstLo = tinst;
    h.mtinstHi = 0;
    s.mepcLo = epcLo & EPC_MASK;
    s.mepcHi = epcHi;
    s.mcauseLo = code;
    s.mcauseHi = causeHi;
    s.mtvalLo = tvalLo;
    s.mtvalHi = tvalHi;
    s.mstatusMpie = s.mstatusMie;
    s.mstatusMie = 0;
    s.mstatusMpp = p;
    s.priv = PRIV_M;
  }
  return recorded;
}

/**
 * The checks and state changes of MRET/SRET with H. Returns the cause to raise (illegal
 * or virtual instruction) or 0 after changing mode, V and status; the caller jumps to
 * the returned epc left in s.csrLo/s.csrHi.
 */
export function hXret(s: HartState, sret: boolean): number {
  const h = s.h!;
  if (sret) {
    if (s.virt !== 0) {
      // In VU, or in VS with VTSR: HS could have done it, so a virtual instruction.
      if (s.priv === PRIV_U || (h.hstatus & HSTATUS_VTSR) !== 0) return Cause.VirtualInstruction;
    } else if (s.priv === PRIV_U || (s.priv === PRIV_S && s.mstatusTsr !== 0)) {
      return Cause.IllegalInstruction;
    }
    s.csrLo = s.sepcLo;
    s.csrHi = s.sepcHi;
    let toVirt = s.virt;
    if (s.virt === 0) {
      // From HS: V comes from hstatus.SPV, which is cleared.
      toVirt = (h.hstatus & HSTATUS_SPV) !== 0 ? 1 : 0;
      h.hstatus &= ~HSTATUS_SPV;
    }
    s.priv = s.mstatusSpp;
    s.mstatusSie = s.mstatusSpie;
    s.mstatusSpie = 1;
    s.mstatusSpp = PRIV_U;
    s.mstatusMprv = 0; // SRET never returns to M
    setVirt(s, toVirt);
    return 0;
  }
  if (s.priv !== PRIV_M) return Cause.IllegalInstruction;
  s.csrLo = s.mepcLo;
  s.csrHi = s.mepcHi;
  const to = s.mstatusMpp;
  const toVirt = to !== PRIV_M ? h.mpv : 0;
  h.mpv = 0;
  s.priv = to;
  s.mstatusMie = s.mstatusMpie;
  s.mstatusMpie = 1;
  s.mstatusMpp = PRIV_U;
  if (to !== PRIV_M) s.mstatusMprv = 0;
  setVirt(s, toVirt);
  return 0;
}

/** WFI with H: 0 if it may run, else the cause (priv H 8.6.1: TW makes it illegal below
 *  M; otherwise VU, or VS with VTW, makes it a virtual instruction). */
export function hWfiFault(s: HartState): number {
  if (s.priv === PRIV_M) return 0;
  if (s.mstatusTw !== 0 || (s.priv === PRIV_U && s.virt === 0)) return Cause.IllegalInstruction;
  if (s.virt !== 0 && (s.priv === PRIV_U || (s.h!.hstatus & HSTATUS_VTW) !== 0)) return Cause.VirtualInstruction;
  return 0;
}

/** SFENCE.VMA with H: U and (HS with TVM) illegal; VU, and VS with VTVM, virtual. */
export function hSfenceFault(s: HartState): number {
  if (s.virt !== 0) return s.priv === PRIV_U || (s.h!.hstatus & HSTATUS_VTVM) !== 0 ? Cause.VirtualInstruction : 0;
  if (s.priv === PRIV_U || (s.priv === PRIV_S && s.mstatusTvm !== 0)) return Cause.IllegalInstruction;
  return 0;
}

/**
 * The interrupt to take now with H, or -1 (priv H 8.4.2): an M-level one (not in
 * mideleg) in any mode below M or with MIE; an HS-level one (mideleg, not hideleg)
 * whenever V=1, in U, or in HS with SIE; a VS-level one (hideleg) only with V=1, in VU
 * or in VS with vsstatus.SIE. Higher levels first; within one, the priority of
 * trap.ts highest() (MEI MSI MTI SEI SSI STI SGEI VSEI VSSI VSTI).
 */
export function hPendingInterrupt(s: HartState, highest: (bits: number) => number): number {
  const p = s.mip & s.mie;
  if (p === 0) return -1;
  const m = p & ~s.mideleg;
  if (m !== 0 && (s.priv !== PRIV_M || s.mstatusMie !== 0)) return highest(m);
  const hideleg = s.h!.hideleg;
  const hs = p & s.mideleg & ~hideleg;
  // With V=0 the live mstatus.SIE is HS's own.
  if (hs !== 0 && (s.virt !== 0 || s.priv === PRIV_U || (s.priv === PRIV_S && s.mstatusSie !== 0))) return highest(hs);
  const vs = p & hideleg;
  // With V=1 the live SIE is vsstatus.SIE.
  if (vs !== 0 && s.virt !== 0 && (s.priv === PRIV_U || s.mstatusSie !== 0)) return highest(vs);
  return -1;
}

const TWO32 = 4294967296;

/** Sstc for VS (priv H 8.2.7, Sstc): VSTIP = time + htimedelta >= vstimecmp, unsigned
 *  modulo 2^64, while henvcfg.STCE is set. */
export function vsTimerPending(s: HartState, time: number): boolean {
  const h = s.h!;
  if ((h.henvcfgHi & MENVCFG_STCE_HI) === 0) return false;
  const sumLo = (time % TWO32) + (h.htimedeltaLo >>> 0);
  const lo = sumLo % TWO32;
  const hi = (Math.floor(time / TWO32) + (h.htimedeltaHi >>> 0) + (sumLo >= TWO32 ? 1 : 0)) % TWO32;
  const cHi = h.vstimecmpHi >>> 0;
  return hi > cHi || (hi === cHi && lo >= h.vstimecmpLo >>> 0);
}

/** When (host time, 10 MHz ticks) VSTIP will rise: vstimecmp - htimedelta, or Infinity
 *  when the VS timer is off or already pending. Off the hot path (a platform idling). */
export function vsTimerDeadline(s: HartState): number {
  const h = s.h!;
  if ((h.henvcfgHi & MENVCFG_STCE_HI) === 0 || (s.mipTimer & (1 << 6)) !== 0) return Number.POSITIVE_INFINITY;
  const at = BigInt.asUintN(64, pairToBigInt(h.vstimecmpLo, h.vstimecmpHi) - pairToBigInt(h.htimedeltaLo, h.htimedeltaHi));
  return Number(at);
}
