// The A extension (unpriv spec 20191213 ch. 8): decoding and the reservation hook, kept
// free of the memory paths so the decoder and trap.ts can import it without a cycle
// (execution: execute.ts).

import { Op } from '../../ops.js';
import type { HartState } from '../../state.js';

/** Forgets the LR reservation (SC does it itself; trap entry and xRET should call it). */
export function clearReservation(s: HartState): void {
  s.resAddr = -1;
}

/** Decodes opcode AMO (0x2f): the op, with imm = funct5 for AMO_W/AMO_D; ILLEGAL for a
 *  reserved encoding (other widths, unknown funct5, LR with rs2 != 0). */
export function decodeAmo(inst: number): number {
  const f3 = (inst >>> 12) & 7;
  if (f3 !== 2 && f3 !== 3) return Op.ILLEGAL;
  const wide = f3 === 3;
  const f5 = inst >>> 27;
  switch (f5) {
    case 0x02:
      return ((inst >>> 20) & 31) === 0 ? (wide ? Op.LR_D : Op.LR_W) : Op.ILLEGAL;
    case 0x03:
      return wide ? Op.SC_D : Op.SC_W;
    case 0x00: // AMOADD
    case 0x01: // AMOSWAP
    case 0x04: // AMOXOR
    case 0x08: // AMOOR
    case 0x0c: // AMOAND
    case 0x10: // AMOMIN
    case 0x14: // AMOMAX
    case 0x18: // AMOMINU
    case 0x1c: // AMOMAXU
      return wide ? Op.AMO_D : Op.AMO_W;
    default:
      return Op.ILLEGAL;
  }
}
