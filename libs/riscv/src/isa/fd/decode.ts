// Decoding of the F and D opcodes (unpriv ch. 11, 12 and the opcode map, ch. 24): which
// encodings exist, checked once per slot; the fields are read again when the instruction
// runs (execute.ts). Reserved encodings decode to ILLEGAL with imm = the instruction,
// and so does a static rounding mode of 5 or 6 (11.2). fmt 2 (H) and 3 (Q) are absent.

import { Op } from '../../ops.js';

/** rm field valid as a static mode, or 7 = dynamic (checked against frm when run). */
function rmOk(rm: number): boolean {
  return rm !== 5 && rm !== 6;
}

/** Decodes an instruction of major opcode LOAD-FP, STORE-FP, MADD..NMADD or OP-FP into
 *  out[k], out[k + 1]. f register numbers are kept as they are (f0 is a register). */
export function decodeFpInto(inst: number, out: Int32Array, k: number): void {
  const opcode = inst & 0x7f;
  const rd = (inst >>> 7) & 31;
  const f3 = (inst >>> 12) & 7;
  const rs1 = (inst >>> 15) & 31;
  const rs2 = (inst >>> 20) & 31;
  const fmt = (inst >>> 25) & 3;
  let op: number = Op.ILLEGAL;
  let imm = inst | 0;
  switch (opcode) {
    case 0x07: // LOAD-FP
      if (f3 === 2 || f3 === 3) {
        op = f3 === 2 ? Op.FLW : Op.FLD;
        imm = (inst >> 20) & 0xfff;
      }
      break;
    case 0x27: // STORE-FP
      if (f3 === 2 || f3 === 3) {
        op = f3 === 2 ? Op.FSW : Op.FSD;
        imm = (((inst >>> 25) << 5) | ((inst >>> 7) & 31)) & 0xfff;
      }
      break;
    case 0x43:
    case 0x47:
    case 0x4b:
    case 0x4f:
      if (fmt < 2 && rmOk(f3)) op = Op.FP;
      break;
    case 0x53:
      if (fmt < 2 && opFpExists(inst >>> 27, fmt, f3, rs2)) op = Op.FP;
      break;
    default:
      break;
  }
  // FP loads/stores keep the offset in imm; the register numbers ride in word 0 as usual.
  out[k] = op | (rd << 8) | (rs1 << 16) | (rs2 << 24);
  out[k + 1] = op === Op.ILLEGAL || op === Op.FP ? inst | 0 : imm;
}

function opFpExists(funct5: number, fmt: number, f3: number, rs2: number): boolean {
  switch (funct5) {
    case 0x00: // FADD
    case 0x01: // FSUB
    case 0x02: // FMUL
    case 0x03: // FDIV
      return rmOk(f3);
    case 0x0b: // FSQRT
      return rs2 === 0 && rmOk(f3);
    case 0x04: // FSGNJ, FSGNJN, FSGNJX
      return f3 <= 2;
    case 0x05: // FMIN, FMAX
      return f3 <= 1;
    case 0x08: // FCVT.S.D (fmt 0, rs2 1), FCVT.D.S (fmt 1, rs2 0)
      return rs2 === (fmt === 0 ? 1 : 0) && rmOk(f3);
    case 0x14: // FLE, FLT, FEQ
      return f3 <= 2;
    case 0x18: // FCVT.int.fmt
    case 0x1a: // FCVT.fmt.int
      return rs2 <= 3 && rmOk(f3);
    case 0x1c: // FMV.X.fmt (f3 0), FCLASS (f3 1)
      return rs2 === 0 && f3 <= 1;
    case 0x1e: // FMV.fmt.X
      return rs2 === 0 && f3 === 0;
    default:
      return false;
  }
}
