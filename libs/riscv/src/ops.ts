// Handler indices of pre-decoded instructions. The executor's switch uses these numbers as
// literal case labels, because V8 turns a switch into a jump table only when every label
// is a small integer literal; so a number here never changes without the matching `case`
// in executor.ts (every op has a spec that would catch the mismatch).
//
// 0 is reserved: a decode-cache slot holding 0 has not been decoded yet.

export const Op = {
  NONE: 0,
  ILLEGAL: 1,
  LUI: 2,
  AUIPC: 3,
  JAL: 4,
  JALR: 5,
  BEQ: 6,
  BNE: 7,
  BLT: 8,
  BGE: 9,
  BLTU: 10,
  BGEU: 11,
  LB: 12,
  LH: 13,
  LW: 14,
  LD: 15,
  LBU: 16,
  LHU: 17,
  LWU: 18,
  SB: 19,
  SH: 20,
  SW: 21,
  SD: 22,
  ADDI: 23,
  SLTI: 24,
  SLTIU: 25,
  XORI: 26,
  ORI: 27,
  ANDI: 28,
  SLLI: 29,
  SRLI: 30,
  SRAI: 31,
  ADD: 32,
  SUB: 33,
  SLL: 34,
  SLT: 35,
  SLTU: 36,
  XOR: 37,
  SRL: 38,
  SRA: 39,
  OR: 40,
  AND: 41,
  ADDIW: 42,
  SLLIW: 43,
  SRLIW: 44,
  SRAIW: 45,
  ADDW: 46,
  SUBW: 47,
  SLLW: 48,
  SRLW: 49,
  SRAW: 50,
  FENCE: 51,
  FENCE_I: 52,
  ECALL: 53,
  EBREAK: 54,
  MRET: 55,
  WFI: 56,
  /** Any of CSRRW/CSRRS/CSRRC/CSRRWI/CSRRSI/CSRRCI; imm holds the raw instruction. */
  CSR: 57,
  /** ADDI with rs1 = x0 (`li`): the commonest instruction, worth its own case. */
  LI: 58,
  SRET: 59,
  /** imm holds the raw instruction (the tval if it traps); rs1 the address, rs2 the ASID. */
  SFENCE_VMA: 60,
  /** H extension: HLV/HLVX/HSV and HFENCE.VVMA/GVMA; imm holds the raw instruction
   *  (hypervisor/instructions.ts decodes and checks it when it runs). */
  HYP: 61,

  // ---- Unprivileged extensions M, A, F, D (isa/m, isa/a, isa/fd). Numbered from
  //      100 so the privileged ops can grow from 59 without the two lists meeting. ----
  MUL: 100,
  MULH: 101,
  MULHSU: 102,
  MULHU: 103,
  DIV: 104,
  DIVU: 105,
  REM: 106,
  REMU: 107,
  MULW: 108,
  DIVW: 109,
  DIVUW: 110,
  REMW: 111,
  REMUW: 112,
  /** LR/SC/AMO: imm holds funct5 (the AMO kind) for AMO_W/AMO_D. */
  LR_W: 113,
  LR_D: 114,
  SC_W: 115,
  SC_D: 116,
  AMO_W: 117,
  AMO_D: 118,
  /** FP loads and stores: rd/rs2 name f registers; imm = offset in bits 11:0, and for a
   *  compressed form the 16-bit parcel in bits 31:16 (the tval of an illegal-instruction). */
  FLW: 119,
  FLD: 120,
  FSW: 121,
  FSD: 122,
  /** Every other F/D instruction: imm holds the raw instruction, isa/fd/execute.ts decodes
   *  its fields (FP register numbers, rm, rs3) when it runs. rd is never SINK. */
  FP: 123,
} as const;

export type OpCode = (typeof Op)[keyof typeof Op];

const NAMES: string[] = [];
for (const [name, n] of Object.entries(Op)) NAMES[n] = name.toLowerCase().replace('_', '.');

/** Mnemonic of a handler index, for traces and test messages. */
export function opName(op: number): string {
  return NAMES[op] ?? `op${op}`;
}
