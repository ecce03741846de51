// The hypervisor instructions (priv H 8.3): HLV/HLVX/HSV, loads and stores made by HS or
// M (or U with hstatus.HU) as though V=1 at privilege hstatus.SPVP, and HFENCE.VVMA /
// HFENCE.GVMA, the TLB flush points of guest translations. Executed out of line: a
// hypervisor uses them on exits, never in a guest's inner loop.

import { Cause } from '../cause.js';
import { SINK } from '../decoder.js';
import { loadSlow, storeSlow } from '../mem-access.js';
import { updateTranslationMode } from '../mmu/sv.js';
import { PRIV_S, PRIV_U, type HartState } from '../state.js';
import { raiseException } from '../trap.js';
import { HSTATUS_HU } from './state.js';

/** Executes HLV/HLVX/HSV/HFENCE `inst` at s.pc; false after raising its exception. */
export function hypInstruction(s: HartState, inst: number): boolean {
  const h = s.h;
  const f7 = inst >>> 25;
  const rs1 = (inst >>> 15) & 31;
  const rs2 = (inst >>> 20) & 31;
  const rd = (inst >>> 7) & 31;
  const fence = ((inst >>> 12) & 7) === 0;
  if (h === null || !validEncoding(f7, rs2, rd, fence)) return fault(s, Cause.IllegalInstruction, inst);
  // V=1: HS could have done it, so a virtual instruction; U needs HU for HLV/HSV, and
  // HFENCE.GVMA in HS falls under mstatus.TVM like satp (priv H 8.3.2, 8.6.1).
  if (s.virt !== 0) return fault(s, Cause.VirtualInstruction, inst);
  if (fence) {
    if (s.priv === PRIV_U || (f7 === 0x31 && s.priv === PRIV_S && s.mstatusTvm !== 0)) return fault(s, Cause.IllegalInstruction, inst);
    // The TLB holds guest translations in their own sets; dropping everything is a
    // superset of either fence's effect, whatever its address and VMID/ASID operands.
    s.tlb.flushAll();
    s.brk = true;
    return true;
  }
  if (s.priv === PRIV_U && (h.hstatus & HSTATUS_HU) === 0) return fault(s, Cause.IllegalInstruction, inst);
  const size = (1 << ((f7 >>> 1) & 3)) as 1 | 2 | 4 | 8;
  const store = (f7 & 1) !== 0;
  // Translate as VS (SPVP = 1) or VU (0): loads and stores use s.dPriv/s.dVirt.
  s.dPriv = (h.hstatus >>> 8) & 1;
  s.dVirt = 1;
  s.dataVm = true;
  h.trapHlv = true;
  h.hlvx = rs2 === 3;
  const ok = store ? storeSlow(s, rs1, 0, size, rs2) : loadSlow(s, rs1, 0, size, rs2 !== 0, rd === 0 ? SINK : rd);
  h.trapHlv = false;
  h.hlvx = false;
  updateTranslationMode(s);
  return ok;
}

/** funct7 0x30..0x37 with rs2 (loads: 0 signed, 1 unsigned, 3 HLVX for H and W only;
 *  HLV.D only signed) or rd (stores: 0); HFENCE with rd = 0 (the decoder checked). */
function validEncoding(f7: number, rs2: number, rd: number, fence: boolean): boolean {
  if (fence) return true;
  if ((f7 & 1) !== 0) return rd === 0;
  if (f7 === 0x36) return rs2 === 0;
  if (rs2 === 3) return f7 === 0x32 || f7 === 0x34;
  return rs2 === 0 || rs2 === 1;
}

function fault(s: HartState, cause: number, inst: number): boolean {
  raiseException(s, cause, inst | 0, 0);
  return false;
}
