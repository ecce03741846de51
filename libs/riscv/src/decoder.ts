// RV64I + Zicsr + Zifencei + privileged SYSTEM decoder (unprivileged spec 20191213 ch. 2, 5,
// 9, 24; privileged spec 1.12 ch. 3.3). It runs once per instruction slot, the executor
// then reads the packed result from the decode cache:
//
//   word 0: op | rd << 8 | rs1 << 16 | rs2 << 24      word 1: imm (sign-extended)
//
// A destination of x0 is rewritten to SINK, a 33rd register nobody reads, so the executor
// writes results without testing rd and x0 stays zero. Anything this hart does not
// implement decodes to ILLEGAL with imm = the instruction bits (the mtval the trap wants).

import { Op } from './ops.js';
import { decodeFpInto } from './isa/fd/decode.js';
import { decodeAmo } from './isa/a/decode.js';

/** Register index that absorbs writes to x0. */
export const SINK = 32;

/** Number of int32 words per decoded slot. */
export const SLOT_WORDS = 2;

/** Set in word 0 of a slot decoded from a 16-bit (C) instruction: the executor's
 *  instruction length is 4 - ((w >>> 14) & 2). Bits 14:15 of the rd byte are free (rd is
 *  at most SINK = 32). */
export const C_FLAG = 1 << 15;

export function packWord(op: number, rd: number, rs1: number, rs2: number): number {
  return op | (rd << 8) | (rs1 << 16) | (rs2 << 24);
}

export function wordOp(w: number): number {
  return w & 0xff;
}
export function wordRd(w: number): number {
  return (w >>> 8) & 0x3f;
}
export function wordRs1(w: number): number {
  return (w >>> 16) & 0xff;
}
export function wordRs2(w: number): number {
  return w >>> 24;
}

const BRANCH: readonly number[] = [Op.BEQ, Op.BNE, Op.ILLEGAL, Op.ILLEGAL, Op.BLT, Op.BGE, Op.BLTU, Op.BGEU];
const LOAD: readonly number[] = [Op.LB, Op.LH, Op.LW, Op.LD, Op.LBU, Op.LHU, Op.LWU, Op.ILLEGAL];
const STORE: readonly number[] = [Op.SB, Op.SH, Op.SW, Op.SD];
const OP_IMM: readonly number[] = [Op.ADDI, Op.SLLI, Op.SLTI, Op.SLTIU, Op.XORI, Op.SRLI, Op.ORI, Op.ANDI];
const OP_REG: readonly number[] = [Op.ADD, Op.SLL, Op.SLT, Op.SLTU, Op.XOR, Op.SRL, Op.OR, Op.AND];
const MULDIV: readonly number[] = [Op.MUL, Op.MULH, Op.MULHSU, Op.MULHU, Op.DIV, Op.DIVU, Op.REM, Op.REMU];
const MULDIV_W: readonly number[] = [Op.MULW, Op.ILLEGAL, Op.ILLEGAL, Op.ILLEGAL, Op.DIVW, Op.DIVUW, Op.REMW, Op.REMUW];

/** Immediate of a J-type instruction (JAL), sign-extended. */
export function immJ(inst: number): number {
  return ((inst >> 31) << 20) | (((inst >>> 12) & 0xff) << 12) | (((inst >>> 20) & 1) << 11) | (((inst >>> 21) & 0x3ff) << 1);
}

/** Immediate of a B-type instruction (branches), sign-extended. */
export function immB(inst: number): number {
  return ((inst >> 31) << 12) | (((inst >>> 7) & 1) << 11) | (((inst >>> 25) & 0x3f) << 5) | (((inst >>> 8) & 0xf) << 1);
}

/** Immediate of an S-type instruction (stores), sign-extended. */
export function immS(inst: number): number {
  return ((inst >> 25) << 5) | ((inst >>> 7) & 31);
}

/** Decodes one 32-bit instruction into out[k], out[k + 1]. */
export function decodeInto(inst: number, out: Int32Array, k: number): void {
  const rd = (inst >>> 7) & 31;
  const f3 = (inst >>> 12) & 7;
  const rs1 = (inst >>> 15) & 31;
  const rs2 = (inst >>> 20) & 31;
  const f7 = inst >>> 25;
  let op: number = Op.ILLEGAL;
  let imm = 0;

  // The opcode includes bits [1:0]; anything not ending in 0b11 is a compressed
  // instruction, illegal until C is implemented (misa.C = 0).
  switch (inst & 0x7f) {
    case 0x37: // LUI
      op = Op.LUI;
      imm = inst & 0xfffff000;
      break;
    case 0x17: // AUIPC
      op = Op.AUIPC;
      imm = inst & 0xfffff000;
      break;
    case 0x6f: // JAL
      op = Op.JAL;
      imm = immJ(inst);
      break;
    case 0x67: // JALR
      if (f3 === 0) {
        op = Op.JALR;
        imm = inst >> 20;
      }
      break;
    case 0x63: // BRANCH
      op = BRANCH[f3]!;
      imm = immB(inst);
      break;
    case 0x03: // LOAD
      op = LOAD[f3]!;
      imm = inst >> 20;
      break;
    case 0x23: // STORE
      if (f3 < 4) {
        op = STORE[f3]!;
        imm = immS(inst);
      }
      break;
    case 0x13: // OP-IMM
      op = OP_IMM[f3]!;
      imm = inst >> 20;
      if (f3 === 1) {
        // RV64 SLLI: shamt is 6 bits, funct6 must be 0.
        imm &= 63;
        if (inst >>> 26 !== 0) op = Op.ILLEGAL;
      } else if (f3 === 5) {
        const f6 = inst >>> 26;
        imm &= 63;
        op = f6 === 0 ? Op.SRLI : f6 === 0x10 ? Op.SRAI : Op.ILLEGAL;
      } else if (f3 === 0 && rs1 === 0) {
        op = Op.LI;
      }
      break;
    case 0x1b: // OP-IMM-32
      if (f3 === 0) {
        op = Op.ADDIW;
        imm = inst >> 20;
      } else if (f3 === 1 && f7 === 0) {
        op = Op.SLLIW;
        imm = rs2;
      } else if (f3 === 5 && (f7 === 0 || f7 === 0x20)) {
        op = f7 === 0 ? Op.SRLIW : Op.SRAIW;
        imm = rs2;
      }
      break;
    case 0x33: // OP
      if (f7 === 0) op = OP_REG[f3]!;
      else if (f7 === 0x20 && f3 === 0) op = Op.SUB;
      else if (f7 === 0x20 && f3 === 5) op = Op.SRA;
      else if (f7 === 1) op = MULDIV[f3]!;
      break;
    case 0x3b: // OP-32
      if (f7 === 0) op = f3 === 0 ? Op.ADDW : f3 === 1 ? Op.SLLW : f3 === 5 ? Op.SRLW : Op.ILLEGAL;
      else if (f7 === 0x20) op = f3 === 0 ? Op.SUBW : f3 === 5 ? Op.SRAW : Op.ILLEGAL;
      else if (f7 === 1) op = MULDIV_W[f3]!;
      break;
    case 0x07: // LOAD-FP
    case 0x27: // STORE-FP
    case 0x43: // MADD
    case 0x47: // MSUB
    case 0x4b: // NMSUB
    case 0x4f: // NMADD
    case 0x53: // OP-FP
      decodeFpInto(inst, out, k); // f0 is a register: no SINK rewrite
      return;
    case 0x2f: // AMO: LR/SC/AMO*, imm = funct5 (the AMO kind)
      op = decodeAmo(inst);
      imm = inst >>> 27;
      break;
    case 0x0f: // MISC-MEM
      // Unused FENCE fields (fm other than 0000/1000, rs1, rd) are reserved and ignored,
      // as the spec asks; every other funct3 (CBO...) is not implemented.
      if (f3 === 0) op = Op.FENCE;
      else if (f3 === 1) op = Op.FENCE_I;
      break;
    case 0x73: // SYSTEM
      if (f3 === 0) {
        // Exact encodings only (priv 1.12 ch. 9 table); the privilege each needs is
        // checked when it runs (trap.ts).
        if (inst === 0x00000073) op = Op.ECALL;
        else if (inst === 0x00100073) op = Op.EBREAK;
        else if (inst === 0x30200073) op = Op.MRET;
        else if (inst === 0x10200073) op = Op.SRET;
        else if (inst === 0x10500073) op = Op.WFI;
        else if ((inst & 0xfe007fff) === 0x12000073) {
          op = Op.SFENCE_VMA;
          imm = inst;
        } else if ((inst & 0xbe007fff) === 0x22000073) {
          op = Op.HYP; // HFENCE.VVMA (funct7 0x11), HFENCE.GVMA (0x31)
          imm = inst;
        }
      } else if (f3 === 4) {
        // HLV/HLVX/HSV: funct7 0x30..0x37 (H extension; illegal on a hart without it).
        if (inst >>> 28 === 6 && ((inst >>> 25) & 8) === 0) {
          op = Op.HYP;
          imm = inst;
        }
      } else {
        op = Op.CSR;
        imm = inst;
      }
      break;
    default:
      break;
  }

  if (op === Op.ILLEGAL) imm = inst | 0;
  out[k] = packWord(op, rd === 0 ? SINK : rd, rs1, rs2);
  out[k + 1] = imm;
}
