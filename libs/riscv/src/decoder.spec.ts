import { describe, expect, it } from 'vitest';
import { decodeInto, immB, immJ, immS, SINK, wordOp, wordRd, wordRs1, wordRs2 } from './decoder.js';
import { Op, opName } from './ops.js';
import { e } from './harness.test-util.js';

function decode(inst: number): { op: number; rd: number; rs1: number; rs2: number; imm: number } {
  const out = new Int32Array(2);
  decodeInto(inst, out, 0);
  return { op: wordOp(out[0]!), rd: wordRd(out[0]!), rs1: wordRs1(out[0]!), rs2: wordRs2(out[0]!), imm: out[1]! };
}

describe('decoder', () => {
  it.each([
    ['lui', e.lui(5, 0x12345), Op.LUI, 0x12345000],
    ['auipc', e.auipc(5, 0xfffff), Op.AUIPC, -4096],
    ['jal', e.jal(5, -8), Op.JAL, -8],
    ['jalr', e.jalr(5, 6, -1), Op.JALR, -1],
    ['beq', e.beq(6, 7, 16), Op.BEQ, 16],
    ['bne', e.bne(6, 7, -16), Op.BNE, -16],
    ['blt', e.blt(6, 7, 4094), Op.BLT, 4094],
    ['bge', e.bge(6, 7, -4096), Op.BGE, -4096],
    ['bltu', e.bltu(6, 7, 8), Op.BLTU, 8],
    ['bgeu', e.bgeu(6, 7, 8), Op.BGEU, 8],
    ['lb', e.lb(5, 6, -2048), Op.LB, -2048],
    ['lh', e.lh(5, 6, 2047), Op.LH, 2047],
    ['lw', e.lw(5, 6, 4), Op.LW, 4],
    ['ld', e.ld(5, 6, 8), Op.LD, 8],
    ['lbu', e.lbu(5, 6, 1), Op.LBU, 1],
    ['lhu', e.lhu(5, 6, 2), Op.LHU, 2],
    ['lwu', e.lwu(5, 6, 4), Op.LWU, 4],
    ['sb', e.sb(7, 6, -1), Op.SB, -1],
    ['sh', e.sh(7, 6, -2048), Op.SH, -2048],
    ['sw', e.sw(7, 6, 2047), Op.SW, 2047],
    ['sd', e.sd(7, 6, 8), Op.SD, 8],
    ['addi', e.addi(5, 6, -5), Op.ADDI, -5],
    ['addi from x0 is li', e.addi(5, 0, 7), Op.LI, 7],
    ['slti', e.slti(5, 6, -1), Op.SLTI, -1],
    ['sltiu', e.sltiu(5, 6, -1), Op.SLTIU, -1],
    ['xori', e.xori(5, 6, 0x7ff), Op.XORI, 0x7ff],
    ['ori', e.ori(5, 6, 1), Op.ORI, 1],
    ['andi', e.andi(5, 6, -256), Op.ANDI, -256],
    ['slli', e.slli(5, 6, 63), Op.SLLI, 63],
    ['srli', e.srli(5, 6, 32), Op.SRLI, 32],
    ['srai', e.srai(5, 6, 33), Op.SRAI, 33],
    ['addiw', e.addiw(5, 6, -1), Op.ADDIW, -1],
    ['slliw', e.slliw(5, 6, 31), Op.SLLIW, 31],
    ['srliw', e.srliw(5, 6, 1), Op.SRLIW, 1],
    ['sraiw', e.sraiw(5, 6, 31), Op.SRAIW, 31],
  ])('%s', (_name, inst, op, imm) => {
    const d = decode(inst);
    expect(opName(d.op)).toBe(opName(op));
    expect(d.imm).toBe(imm);
  });

  it.each([
    ['add', e.add, Op.ADD],
    ['sub', e.sub, Op.SUB],
    ['sll', e.sll, Op.SLL],
    ['slt', e.slt, Op.SLT],
    ['sltu', e.sltu, Op.SLTU],
    ['xor', e.xor, Op.XOR],
    ['srl', e.srl, Op.SRL],
    ['sra', e.sra, Op.SRA],
    ['or', e.or, Op.OR],
    ['and', e.and, Op.AND],
    ['addw', e.addw, Op.ADDW],
    ['subw', e.subw, Op.SUBW],
    ['sllw', e.sllw, Op.SLLW],
    ['srlw', e.srlw, Op.SRLW],
    ['sraw', e.sraw, Op.SRAW],
  ] as const)('%s registers', (_n, enc, op) => {
    const d = decode(enc(29, 30, 31));
    expect(d).toMatchObject({ op, rd: 29, rs1: 30, rs2: 31 });
  });

  it('system, fence and csr instructions', () => {
    expect(decode(e.fence()).op).toBe(Op.FENCE);
    expect(decode(e.fence(0x3, 0x3, 0x8)).op).toBe(Op.FENCE); // fence.tso
    expect(decode(e.fenceI()).op).toBe(Op.FENCE_I);
    expect(decode(e.ecall()).op).toBe(Op.ECALL);
    expect(decode(e.ebreak()).op).toBe(Op.EBREAK);
    expect(decode(e.mret()).op).toBe(Op.MRET);
    expect(decode(e.sret()).op).toBe(Op.SRET);
    expect(decode(e.wfi()).op).toBe(Op.WFI);
    expect(decode(e.sfenceVma(5, 6))).toMatchObject({ op: Op.SFENCE_VMA, rs1: 5, rs2: 6, imm: e.sfenceVma(5, 6) | 0 });
    for (const enc of [e.csrrw, e.csrrs, e.csrrc, e.csrrwi, e.csrrsi, e.csrrci]) {
      const inst = enc(5, 0x340, 7);
      const d = decode(inst);
      expect(d.op).toBe(Op.CSR);
      expect(d.imm >>> 0).toBe(inst); // the CSR handler parses the raw bits
    }
  });

  it('rewrites rd = x0 to the sink register', () => {
    expect(decode(e.addi(0, 5, 1)).rd).toBe(SINK);
    expect(decode(e.lw(0, 5, 0)).rd).toBe(SINK);
    expect(decode(e.addi(1, 5, 1)).rd).toBe(1);
  });

  it.each([
    ['all zeros', 0x00000000],
    ['all ones', 0xffffffff],
    ['a 16-bit parcel given to the 32-bit decoder (isa/c/decode.ts expands those)', 0x00000001],
    ['OP with funct7 = 2 (no extension there)', e.rType(0x33, 1, 0, 2, 3, 2)],
    ['slli with funct6 != 0', (e.slli(1, 2, 3) | (1 << 26)) >>> 0],
    ['srli with bad funct6', (e.srli(1, 2, 3) | (0x20 << 26)) >>> 0],
    ['slliw with shamt[5] set', (e.slliw(1, 2, 3) | (1 << 25)) >>> 0],
    ['sraiw with bad funct7', (e.srliw(1, 2, 3) | (0x10 << 25)) >>> 0],
    ['add with funct7 = 0x40', e.rType(0x33, 1, 0, 2, 3, 0x40)],
    ['sub with funct3 = 1', e.rType(0x33, 1, 1, 2, 3, 0x20)],
    ['addw with funct3 = 2', e.rType(0x3b, 1, 2, 2, 3, 0)],
    ['load funct3 = 7', e.iType(0x03, 1, 7, 2, 0)],
    ['store funct3 = 4', e.sType(0x23, 4, 2, 3, 0)],
    ['branch funct3 = 2', (e.beq(1, 2, 8) | (2 << 12)) >>> 0],
    ['jalr funct3 = 1', e.iType(0x67, 1, 1, 2, 0)],
    ['misc-mem funct3 = 2 (cbo)', e.iType(0x0f, 0, 2, 1, 0)],
    ['hfence.vvma with rd != 0', 0x220000f3],
    ['hlv with funct7 = 0x38', e.rType(0x73, 1, 4, 2, 0, 0x38)],
    ['sfence.vma with rd != 0', 0x120000f3],
    ['ecall with rd != 0', 0x000000f3],
    ['system funct3 = 4', 0x00004073],
    ['48-bit encoding', 0x0000001f],
  ])('%s is illegal with imm = the instruction bits', (_n, inst) => {
    const d = decode(inst);
    expect(d.op).toBe(Op.ILLEGAL);
    expect(d.imm >>> 0).toBe(inst >>> 0);
  });

  // The H instructions decode on every hart (decoded code is shared by physical page);
  // hypervisor/instructions.ts makes them illegal on a hart without H when they run.
  it.each([
    ['hfence.vvma', 0x22000073],
    ['hfence.gvma', 0x62000073],
    ['hlv.d a0, (a1)', e.rType(0x73, 10, 4, 11, 0, 0x36)],
    ['hsv.b a0, (a1)', e.rType(0x73, 0, 4, 11, 10, 0x31)],
  ])('%s decodes to HYP with imm = the instruction bits', (_n, inst) => {
    const d = decode(inst);
    expect(d.op).toBe(Op.HYP);
    expect(d.imm >>> 0).toBe(inst >>> 0);
  });

  it('immediate extraction at the extremes', () => {
    expect(immJ(e.jal(0, -(1 << 20)))).toBe(-(1 << 20));
    expect(immJ(e.jal(0, (1 << 20) - 2))).toBe((1 << 20) - 2);
    expect(immB(e.beq(0, 0, -4096))).toBe(-4096);
    expect(immB(e.beq(0, 0, 4094))).toBe(4094);
    expect(immS(e.sd(0, 0, -2048))).toBe(-2048);
    expect(immS(e.sd(0, 0, 2047))).toBe(2047);
  });
});
