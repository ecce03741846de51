// The C extension (unpriv spec 20191213 ch. 16, RV64C): every 16-bit instruction is
// expanded to its 32-bit twin and decoded by decodeInto, so the executor sees the same
// op, registers and immediate as for the long form. The slot also carries C_FLAG, from
// which the executor takes the instruction length (pc + 2, and the link of C.JAL(R)).
//
// Reserved encodings (16.8 table) decode to ILLEGAL with imm = the 16-bit parcel, the
// tval of the illegal-instruction exception (as QEMU). HINTs (rd = x0 forms, C.NOP with
// an immediate, C.SLLI/SRLI/SRAI by 0) execute as the no-ops they are.

import { C_FLAG, decodeInto, packWord, SINK } from '../../decoder.js';
import { Op } from '../../ops.js';

const bit = (v: number, i: number): number => (v >>> i) & 1;
const bits = (v: number, hi: number, lo: number): number => (v >>> lo) & ((1 << (hi - lo + 1)) - 1);

// 32-bit formats (operands already numbers 0..31).
const rType = (op: number, rd: number, f3: number, rs1: number, rs2: number, f7: number): number =>
  (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const iType = (op: number, rd: number, f3: number, rs1: number, imm: number): number => ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const sType = (op: number, f3: number, rs1: number, rs2: number, imm: number): number =>
  (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op;
function bType(f3: number, rs1: number, rs2: number, o: number): number {
  return (bit(o, 12) << 31) | (bits(o, 10, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (bits(o, 4, 1) << 8) | (bit(o, 11) << 7) | 0x63;
}
function jType(rd: number, o: number): number {
  return (bit(o, 20) << 31) | (bits(o, 10, 1) << 21) | (bit(o, 11) << 20) | (bits(o, 19, 12) << 12) | (rd << 7) | 0x6f;
}

/** Sign-extends the low `n` bits of v. */
const sext = (v: number, n: number): number => (v << (32 - n)) >> (32 - n);

/** The 32-bit instruction a 16-bit parcel stands for, or 0 when it is reserved. */
export function expandCompressed(c: number): number {
  const op = c & 3;
  const f3 = c >>> 13;
  const rd = bits(c, 11, 7); // also rs1 of CI/CR forms
  const rs2 = bits(c, 6, 2);
  const rdp = bits(c, 4, 2) + 8; // rd' / rs2'
  const rs1p = bits(c, 9, 7) + 8; // rs1' / rd'
  const imm6 = sext((bit(c, 12) << 5) | bits(c, 6, 2), 6);
  const uimmD = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6); // C.LD/SD/FLD/FSD
  const uimmW = (bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6); // C.LW/SW
  if (op === 0) {
    switch (f3) {
      case 0: {
        // C.ADDI4SPN (nzuimm = 0 is reserved, which covers the all-zero parcel)
        const u = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bit(c, 6) << 2) | (bit(c, 5) << 3);
        return u === 0 ? 0 : iType(0x13, rdp, 0, 2, u);
      }
      case 1: // C.FLD
        return iType(0x07, rdp, 3, rs1p, uimmD);
      case 2: // C.LW
        return iType(0x03, rdp, 2, rs1p, uimmW);
      case 3: // C.LD
        return iType(0x03, rdp, 3, rs1p, uimmD);
      case 5: // C.FSD
        return sType(0x27, 3, rs1p, rdp, uimmD);
      case 6: // C.SW
        return sType(0x23, 2, rs1p, rdp, uimmW);
      case 7: // C.SD
        return sType(0x23, 3, rs1p, rdp, uimmD);
      default: // 4: reserved
        return 0;
    }
  }
  if (op === 1) {
    switch (f3) {
      case 0: // C.ADDI, C.NOP (and their HINTs)
        return iType(0x13, rd, 0, rd, imm6);
      case 1: // C.ADDIW (rd = 0 reserved)
        return rd === 0 ? 0 : iType(0x1b, rd, 0, rd, imm6);
      case 2: // C.LI
        return iType(0x13, rd, 0, 0, imm6);
      case 3: {
        if (rd === 2) {
          // C.ADDI16SP: nzimm[9|4|6|8:7|5] = c[12|6|5|4:3|2]
          const v = sext((bit(c, 12) << 9) | (bit(c, 6) << 4) | (bit(c, 5) << 6) | (bits(c, 4, 3) << 7) | (bit(c, 2) << 5), 10);
          return v === 0 ? 0 : iType(0x13, 2, 0, 2, v);
        }
        // C.LUI: nzimm[17:12]; 0 is reserved
        return imm6 === 0 ? 0 : ((imm6 << 12) & 0xfffff000) | (rd << 7) | 0x37;
      }
      case 4: {
        const f2 = bits(c, 11, 10);
        const sh = (bit(c, 12) << 5) | bits(c, 6, 2);
        if (f2 === 0) return iType(0x13, rs1p, 5, rs1p, sh); // C.SRLI
        if (f2 === 1) return iType(0x13, rs1p, 5, rs1p, sh | 0x400); // C.SRAI
        if (f2 === 2) return iType(0x13, rs1p, 7, rs1p, imm6); // C.ANDI
        const k = bits(c, 6, 5);
        if (bit(c, 12) === 0) {
          // C.SUB, C.XOR, C.OR, C.AND
          if (k === 0) return rType(0x33, rs1p, 0, rs1p, rdp, 0x20);
          return rType(0x33, rs1p, k === 1 ? 4 : k === 2 ? 6 : 7, rs1p, rdp, 0);
        }
        if (k === 0) return rType(0x3b, rs1p, 0, rs1p, rdp, 0x20); // C.SUBW
        if (k === 1) return rType(0x3b, rs1p, 0, rs1p, rdp, 0); // C.ADDW
        return 0; // reserved
      }
      case 5: {
        // C.J: offset[11|4|9:8|10|6|7|3:1|5] = c[12|11|10:9|8|7|6|5:3|2]
        const o = sext(
          (bit(c, 12) << 11) |
            (bit(c, 11) << 4) |
            (bits(c, 10, 9) << 8) |
            (bit(c, 8) << 10) |
            (bit(c, 7) << 6) |
            (bit(c, 6) << 7) |
            (bits(c, 5, 3) << 1) |
            (bit(c, 2) << 5),
          12,
        );
        return jType(0, o);
      }
      default: {
        // 6 C.BEQZ, 7 C.BNEZ: offset[8|4:3|7:6|2:1|5] = c[12|11:10|6:5|4:3|2]
        const o = sext((bit(c, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) | (bit(c, 2) << 5), 9);
        return bType(f3 === 6 ? 0 : 1, rs1p, 0, o);
      }
    }
  }
  // op === 2
  const uimmSpD = (bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6); // C.LDSP/FLDSP
  const uimmSpW = (bit(c, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6); // C.LWSP
  const uimmSsD = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6); // C.SDSP/FSDSP
  const uimmSsW = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6); // C.SWSP
  switch (f3) {
    case 0: // C.SLLI
      return iType(0x13, rd, 1, rd, (bit(c, 12) << 5) | rs2);
    case 1: // C.FLDSP
      return iType(0x07, rd, 3, 2, uimmSpD);
    case 2: // C.LWSP (rd = 0 reserved)
      return rd === 0 ? 0 : iType(0x03, rd, 2, 2, uimmSpW);
    case 3: // C.LDSP (rd = 0 reserved)
      return rd === 0 ? 0 : iType(0x03, rd, 3, 2, uimmSpD);
    case 4:
      if (bit(c, 12) === 0) {
        if (rs2 === 0) return rd === 0 ? 0 : iType(0x67, 0, 0, rd, 0); // C.JR (rs1 = 0 reserved)
        return rType(0x33, rd, 0, 0, rs2, 0); // C.MV
      }
      if (rs2 === 0) return rd === 0 ? 0x00100073 : iType(0x67, 1, 0, rd, 0); // C.EBREAK, C.JALR
      return rType(0x33, rd, 0, rd, rs2, 0); // C.ADD
    case 5: // C.FSDSP
      return sType(0x27, 3, 2, rs2, uimmSsD);
    case 6: // C.SWSP
      return sType(0x23, 2, 2, rs2, uimmSsW);
    default: // 7: C.SDSP
      return sType(0x23, 3, 2, rs2, uimmSsD);
  }
}

/** Decodes the 16-bit parcel `c` into out[k], out[k + 1] as its 32-bit twin + C_FLAG. */
export function decodeCompressedInto(c: number, out: Int32Array, k: number): void {
  const inst = expandCompressed(c);
  if (inst === 0) {
    out[k] = packWord(Op.ILLEGAL, SINK, 0, 0) | C_FLAG;
    out[k + 1] = c;
    return;
  }
  decodeInto(inst, out, k);
  out[k] |= C_FLAG;
  const op = out[k]! & 0xff;
  if (op === Op.ILLEGAL) {
    out[k + 1] = c; // the tval is the parcel, not its expansion
  } else if (op >= Op.FLW && op <= Op.FSD) {
    out[k + 1] = (out[k + 1]! & 0xfff) | (c << 16); // isa/fd/execute.ts: parcel for the tval
  }
}
