// The V bit (priv H 8.1): changing it swaps the supervisor registers in HartState with
// their other set in HState (see hypervisor/state.ts for why a swap), exactly once per
// change. Callers (trap entry, xRET) re-derive the translation mode afterwards.

import type { HartState } from '../state.js';
import type { HState } from './state.js';

/** Sets V, swapping the supervisor registers when it changes. */
export function setVirt(s: HartState, v: number): void {
  if (s.virt === v) return;
  const h = s.h!;
  swapSupervisor(s, h);
  s.virt = v;
  // FP state used in VS-mode is also HS's to save (priv H 8.2.10: a write to FP state
  // with V=1 sets both vsstatus.FS and mstatus.FS to Dirty). Marking it on the way out
  // is the conservative form the spec allows.
  if (v === 0 && h.bkFs === 3 && s.mstatusFs !== 0) s.mstatusFs = 3;
}

/** Exchanges the live supervisor registers with the waiting set (no side effects). */
export function swapSupervisor(s: HartState, h: HState): void {
  let t = s.mstatusSie;
  s.mstatusSie = h.bkSie;
  h.bkSie = t;
  t = s.mstatusSpie;
  s.mstatusSpie = h.bkSpie;
  h.bkSpie = t;
  t = s.mstatusSpp;
  s.mstatusSpp = h.bkSpp;
  h.bkSpp = t;
  t = s.mstatusFs;
  s.mstatusFs = h.bkFs;
  h.bkFs = t;
  t = s.mstatusSum;
  s.mstatusSum = h.bkSum;
  h.bkSum = t;
  t = s.mstatusMxr;
  s.mstatusMxr = h.bkMxr;
  h.bkMxr = t;
  t = s.stvecLo;
  s.stvecLo = h.bkStvecLo;
  h.bkStvecLo = t;
  t = s.stvecHi;
  s.stvecHi = h.bkStvecHi;
  h.bkStvecHi = t;
  t = s.sscratchLo;
  s.sscratchLo = h.bkSscratchLo;
  h.bkSscratchLo = t;
  t = s.sscratchHi;
  s.sscratchHi = h.bkSscratchHi;
  h.bkSscratchHi = t;
  t = s.sepcLo;
  s.sepcLo = h.bkSepcLo;
  h.bkSepcLo = t;
  t = s.sepcHi;
  s.sepcHi = h.bkSepcHi;
  h.bkSepcHi = t;
  t = s.scauseLo;
  s.scauseLo = h.bkScauseLo;
  h.bkScauseLo = t;
  t = s.scauseHi;
  s.scauseHi = h.bkScauseHi;
  h.bkScauseHi = t;
  t = s.stvalLo;
  s.stvalLo = h.bkStvalLo;
  h.bkStvalLo = t;
  t = s.stvalHi;
  s.stvalHi = h.bkStvalHi;
  h.bkStvalHi = t;
  t = s.satpLo;
  s.satpLo = h.bkSatpLo;
  h.bkSatpLo = t;
  t = s.satpHi;
  s.satpHi = h.bkSatpHi;
  h.bkSatpHi = t;
}

/** HS-mode's mstatus.MXR, wherever it is now. */
export function hsMxr(s: HartState): number {
  return s.virt !== 0 ? s.h!.bkMxr : s.mstatusMxr;
}

/** vsstatus.SUM and .MXR, and vsatp, wherever they are now. */
export function vsSum(s: HartState): number {
  return s.virt !== 0 ? s.mstatusSum : s.h!.bkSum;
}
export function vsMxr(s: HartState): number {
  return s.virt !== 0 ? s.mstatusMxr : s.h!.bkMxr;
}
export function vsatpHi(s: HartState): number {
  return s.virt !== 0 ? s.satpHi : s.h!.bkSatpHi;
}
export function vsatpLo(s: HartState): number {
  return s.virt !== 0 ? s.satpLo : s.h!.bkSatpLo;
}
