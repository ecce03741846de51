// A tiny RV64I + Zicsr encoder, so unit tests build programs in memory without a
// toolchain. Every function returns the instruction as an unsigned 32-bit number and
// throws on an immediate the format cannot hold (a test bug, better caught here).
// Operand order follows the assembler: `sw rs2, imm(rs1)` is sw(rs2, rs1, imm).

export const Reg = {
  zero: 0,
  ra: 1,
  sp: 2,
  gp: 3,
  tp: 4,
  t0: 5,
  t1: 6,
  t2: 7,
  s0: 8,
  fp: 8,
  s1: 9,
  a0: 10,
  a1: 11,
  a2: 12,
  a3: 13,
  a4: 14,
  a5: 15,
  a6: 16,
  a7: 17,
  s2: 18,
  s3: 19,
  s4: 20,
  s5: 21,
  s6: 22,
  s7: 23,
  s8: 24,
  s9: 25,
  s10: 26,
  s11: 27,
  t3: 28,
  t4: 29,
  t5: 30,
  t6: 31,
} as const;

function reg(r: number): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new RangeError(`bad register ${r}`);
  return r;
}

function signed(v: number, bits: number, what: string): number {
  const lim = 2 ** (bits - 1);
  if (!Number.isInteger(v) || v < -lim || v >= lim) throw new RangeError(`${what} ${v} does not fit ${bits} signed bits`);
  return v;
}

function unsigned(v: number, bits: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`${what} ${v} does not fit ${bits} bits`);
  return v;
}

// ---- Formats (unpriv spec 2.2-2.3) ----

export function rType(opcode: number, rd: number, funct3: number, rs1: number, rs2: number, funct7: number): number {
  return ((funct7 << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | opcode) >>> 0;
}

export function iType(opcode: number, rd: number, funct3: number, rs1: number, imm: number): number {
  signed(imm, 12, 'I-immediate');
  return (((imm & 0xfff) << 20) | (reg(rs1) << 15) | (funct3 << 12) | (reg(rd) << 7) | opcode) >>> 0;
}

export function sType(opcode: number, funct3: number, rs1: number, rs2: number, imm: number): number {
  signed(imm, 12, 'S-immediate');
  return ((((imm >> 5) & 0x7f) << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) | ((imm & 31) << 7) | opcode) >>> 0;
}

export function bType(funct3: number, rs1: number, rs2: number, offset: number): number {
  signed(offset, 13, 'branch offset');
  if (offset & 1) throw new RangeError(`branch offset ${offset} is odd`);
  const o = offset & 0x1fff;
  return (
    ((((o >> 12) & 1) << 31) |
      (((o >> 5) & 0x3f) << 25) |
      (reg(rs2) << 20) |
      (reg(rs1) << 15) |
      (funct3 << 12) |
      (((o >> 1) & 0xf) << 8) |
      (((o >> 11) & 1) << 7) |
      0x63) >>>
    0
  );
}

/** U-type with the 20-bit upper immediate as written in assembly (`lui a0, 0x12345`);
 *  negative values name the same bits (-1 = 0xfffff). */
export function uType(opcode: number, rd: number, imm20: number): number {
  if (!Number.isInteger(imm20) || imm20 < -0x80000 || imm20 > 0xfffff) throw new RangeError(`U-immediate ${imm20}`);
  return (((imm20 & 0xfffff) << 12) | (reg(rd) << 7) | opcode) >>> 0;
}

export function jType(rd: number, offset: number): number {
  signed(offset, 21, 'jump offset');
  if (offset & 1) throw new RangeError(`jump offset ${offset} is odd`);
  const o = offset & 0x1fffff;
  return ((((o >> 20) & 1) << 31) | (((o >> 1) & 0x3ff) << 21) | (((o >> 11) & 1) << 20) | (((o >> 12) & 0xff) << 12) | (reg(rd) << 7) | 0x6f) >>> 0;
}

// ---- RV64I ----

export const lui = (rd: number, imm20: number): number => uType(0x37, rd, imm20);
export const auipc = (rd: number, imm20: number): number => uType(0x17, rd, imm20);
export const jal = (rd: number, offset: number): number => jType(rd, offset);
export const jalr = (rd: number, rs1: number, imm: number): number => iType(0x67, rd, 0, rs1, imm);

export const beq = (rs1: number, rs2: number, off: number): number => bType(0, rs1, rs2, off);
export const bne = (rs1: number, rs2: number, off: number): number => bType(1, rs1, rs2, off);
export const blt = (rs1: number, rs2: number, off: number): number => bType(4, rs1, rs2, off);
export const bge = (rs1: number, rs2: number, off: number): number => bType(5, rs1, rs2, off);
export const bltu = (rs1: number, rs2: number, off: number): number => bType(6, rs1, rs2, off);
export const bgeu = (rs1: number, rs2: number, off: number): number => bType(7, rs1, rs2, off);

export const lb = (rd: number, rs1: number, imm: number): number => iType(0x03, rd, 0, rs1, imm);
export const lh = (rd: number, rs1: number, imm: number): number => iType(0x03, rd, 1, rs1, imm);
export const lw = (rd: number, rs1: number, imm: number): number => iType(0x03, rd, 2, rs1, imm);
export const ld = (rd: number, rs1: number, imm: number): number => iType(0x03, rd, 3, rs1, imm);
export const lbu = (rd: number, rs1: number, imm: number): number => iType(0x03, rd, 4, rs1, imm);
export const lhu = (rd: number, rs1: number, imm: number): number => iType(0x03, rd, 5, rs1, imm);
export const lwu = (rd: number, rs1: number, imm: number): number => iType(0x03, rd, 6, rs1, imm);

export const sb = (rs2: number, rs1: number, imm: number): number => sType(0x23, 0, rs1, rs2, imm);
export const sh = (rs2: number, rs1: number, imm: number): number => sType(0x23, 1, rs1, rs2, imm);
export const sw = (rs2: number, rs1: number, imm: number): number => sType(0x23, 2, rs1, rs2, imm);
export const sd = (rs2: number, rs1: number, imm: number): number => sType(0x23, 3, rs1, rs2, imm);

export const addi = (rd: number, rs1: number, imm: number): number => iType(0x13, rd, 0, rs1, imm);
export const slti = (rd: number, rs1: number, imm: number): number => iType(0x13, rd, 2, rs1, imm);
export const sltiu = (rd: number, rs1: number, imm: number): number => iType(0x13, rd, 3, rs1, imm);
export const xori = (rd: number, rs1: number, imm: number): number => iType(0x13, rd, 4, rs1, imm);
export const ori = (rd: number, rs1: number, imm: number): number => iType(0x13, rd, 6, rs1, imm);
export const andi = (rd: number, rs1: number, imm: number): number => iType(0x13, rd, 7, rs1, imm);
export const slli = (rd: number, rs1: number, sh: number): number => iType(0x13, rd, 1, rs1, unsigned(sh, 6, 'shamt'));
export const srli = (rd: number, rs1: number, sh: number): number => iType(0x13, rd, 5, rs1, unsigned(sh, 6, 'shamt'));
export const srai = (rd: number, rs1: number, sh: number): number => (iType(0x13, rd, 5, rs1, unsigned(sh, 6, 'shamt')) | (0x10 << 26)) >>> 0;

export const add = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 0, rs1, rs2, 0);
export const sub = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 0, rs1, rs2, 0x20);
export const sll = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 1, rs1, rs2, 0);
export const slt = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 2, rs1, rs2, 0);
export const sltu = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 3, rs1, rs2, 0);
export const xor = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 4, rs1, rs2, 0);
export const srl = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 5, rs1, rs2, 0);
export const sra = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 5, rs1, rs2, 0x20);
export const or = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 6, rs1, rs2, 0);
export const and = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 7, rs1, rs2, 0);

export const addiw = (rd: number, rs1: number, imm: number): number => iType(0x1b, rd, 0, rs1, imm);
export const slliw = (rd: number, rs1: number, sh: number): number => iType(0x1b, rd, 1, rs1, unsigned(sh, 5, 'shamt'));
export const srliw = (rd: number, rs1: number, sh: number): number => iType(0x1b, rd, 5, rs1, unsigned(sh, 5, 'shamt'));
export const sraiw = (rd: number, rs1: number, sh: number): number => (iType(0x1b, rd, 5, rs1, unsigned(sh, 5, 'shamt')) | (0x20 << 25)) >>> 0;
export const addw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 0, rs1, rs2, 0);
export const subw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 0, rs1, rs2, 0x20);
export const sllw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 1, rs1, rs2, 0);
export const srlw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 5, rs1, rs2, 0);
export const sraw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 5, rs1, rs2, 0x20);

/** FENCE pred, succ (4-bit IORW sets; default iorw, iorw). */
export const fence = (pred = 0xf, succ = 0xf, fm = 0): number =>
  ((unsigned(fm, 4, 'fm') << 28) | (unsigned(pred, 4, 'pred') << 24) | (unsigned(succ, 4, 'succ') << 20) | 0x0f) >>> 0;
export const fenceI = (): number => 0x0000100f;
export const ecall = (): number => 0x00000073;
export const ebreak = (): number => 0x00100073;

// ---- Privileged and Zicsr ----

export const mret = (): number => 0x30200073;
export const sret = (): number => 0x10200073;
export const wfi = (): number => 0x10500073;
/** `sfence.vma rs1, rs2` (rs1 = address, rs2 = ASID; x0 = all). */
export const sfenceVma = (rs1 = 0, rs2 = 0): number => rType(0x73, 0, 0, rs1, rs2, 0x09);

function csrOp(f3: number, rd: number, csr: number, src: number): number {
  return ((unsigned(csr, 12, 'csr') << 20) | (unsigned(src, 5, 'rs1/uimm') << 15) | (f3 << 12) | (reg(rd) << 7) | 0x73) >>> 0;
}
export const csrrw = (rd: number, csr: number, rs1: number): number => csrOp(1, rd, csr, rs1);
export const csrrs = (rd: number, csr: number, rs1: number): number => csrOp(2, rd, csr, rs1);
export const csrrc = (rd: number, csr: number, rs1: number): number => csrOp(3, rd, csr, rs1);
export const csrrwi = (rd: number, csr: number, uimm: number): number => csrOp(5, rd, csr, uimm);
export const csrrsi = (rd: number, csr: number, uimm: number): number => csrOp(6, rd, csr, uimm);
export const csrrci = (rd: number, csr: number, uimm: number): number => csrOp(7, rd, csr, uimm);

// ---- Pseudo-instructions ----

export const nop = (): number => addi(0, 0, 0);
export const mv = (rd: number, rs1: number): number => addi(rd, rs1, 0);
export const ret = (): number => jalr(0, 1, 0);
export const csrr = (rd: number, csr: number): number => csrrs(rd, csr, 0);
export const csrw = (csr: number, rs1: number): number => csrrw(0, csr, rs1);
export const csrs = (csr: number, rs1: number): number => csrrs(0, csr, rs1);
export const csrc = (csr: number, rs1: number): number => csrrc(0, csr, rs1);

function sext12(v: bigint): bigint {
  const lo = v & 0xfffn;
  return lo >= 0x800n ? lo - 0x1000n : lo;
}

/** `li rd, value` for any 64-bit value: lui/addiw for 32-bit values, otherwise the upper
 *  part built recursively then shifted in and topped up with addi (as LLVM does). */
export function li(rd: number, value: bigint | number): number[] {
  const v = BigInt.asIntN(64, BigInt(value));
  const lo12 = sext12(v);
  if (v >= -(2n ** 31n) && v < 2n ** 31n) {
    const hi20 = Number(((v - lo12) >> 12n) & 0xfffffn);
    if (hi20 === 0) return [addi(rd, 0, Number(lo12))];
    const out = [lui(rd, hi20)];
    if (lo12 !== 0n) out.push(addiw(rd, rd, Number(lo12)));
    return out;
  }
  let hi = (v - lo12) >> 12n;
  let shift = 12;
  while ((hi & 1n) === 0n) {
    hi >>= 1n;
    shift++;
  }
  const out = li(rd, hi);
  out.push(slli(rd, rd, shift));
  if (lo12 !== 0n) out.push(addi(rd, rd, Number(lo12)));
  return out;
}

// ---- M (unpriv ch. 7) ----

export const mul = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 0, rs1, rs2, 1);
export const mulh = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 1, rs1, rs2, 1);
export const mulhsu = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 2, rs1, rs2, 1);
export const mulhu = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 3, rs1, rs2, 1);
export const div = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 4, rs1, rs2, 1);
export const divu = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 5, rs1, rs2, 1);
export const rem = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 6, rs1, rs2, 1);
export const remu = (rd: number, rs1: number, rs2: number): number => rType(0x33, rd, 7, rs1, rs2, 1);
export const mulw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 0, rs1, rs2, 1);
export const divw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 4, rs1, rs2, 1);
export const divuw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 5, rs1, rs2, 1);
export const remw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 6, rs1, rs2, 1);
export const remuw = (rd: number, rs1: number, rs2: number): number => rType(0x3b, rd, 7, rs1, rs2, 1);

// ---- A (unpriv ch. 8). Assembler order: `amoadd.w rd, rs2, (rs1)`, `lr.w rd, (rs1)`.
//      aqrl: bit 1 = aq, bit 0 = rl. ----

function amo(funct5: number, width: number, rd: number, rs1: number, rs2: number, aqrl: number): number {
  return rType(0x2f, rd, width, rs1, rs2, (funct5 << 2) | unsigned(aqrl, 2, 'aq/rl'));
}
/** funct5 of each AMO, for table-driven tests. */
export const AmoFunct = {
  add: 0x00,
  swap: 0x01,
  lr: 0x02,
  sc: 0x03,
  xor: 0x04,
  or: 0x08,
  and: 0x0c,
  min: 0x10,
  max: 0x14,
  minu: 0x18,
  maxu: 0x1c,
} as const;
export const lrW = (rd: number, rs1: number, aqrl = 0): number => amo(0x02, 2, rd, rs1, 0, aqrl);
export const lrD = (rd: number, rs1: number, aqrl = 0): number => amo(0x02, 3, rd, rs1, 0, aqrl);
export const scW = (rd: number, rs2: number, rs1: number, aqrl = 0): number => amo(0x03, 2, rd, rs1, rs2, aqrl);
export const scD = (rd: number, rs2: number, rs1: number, aqrl = 0): number => amo(0x03, 3, rd, rs1, rs2, aqrl);
/** Any AMO by name: amoW('add', rd, rs2, rs1). */
export const amoW = (kind: keyof typeof AmoFunct, rd: number, rs2: number, rs1: number, aqrl = 0): number => amo(AmoFunct[kind], 2, rd, rs1, rs2, aqrl);
export const amoD = (kind: keyof typeof AmoFunct, rd: number, rs2: number, rs1: number, aqrl = 0): number => amo(AmoFunct[kind], 3, rd, rs1, rs2, aqrl);

// ---- F and D (unpriv ch. 11, 12). f registers are numbers 0..31; rm defaults to 7
//      (dynamic: use frm). ----

export const Rm = { rne: 0, rtz: 1, rdn: 2, rup: 3, rmm: 4, dyn: 7 } as const;

export const flw = (rd: number, rs1: number, imm: number): number => iType(0x07, rd, 2, rs1, imm);
export const fld = (rd: number, rs1: number, imm: number): number => iType(0x07, rd, 3, rs1, imm);
export const fsw = (rs2: number, rs1: number, imm: number): number => sType(0x27, 2, rs1, rs2, imm);
export const fsd = (rs2: number, rs1: number, imm: number): number => sType(0x27, 3, rs1, rs2, imm);

/** OP-FP with funct5 and fmt (0 = S, 1 = D); the funct3 slot is rm or an op selector. */
export function opFp(funct5: number, fmt: number, rd: number, rs1: number, rs2: number, f3: number): number {
  return rType(0x53, rd, unsigned(f3, 3, 'rm'), rs1, rs2, (funct5 << 2) | fmt);
}
function fma4(opcode: number, fmt: number, rd: number, rs1: number, rs2: number, rs3: number, rm: number): number {
  return (rType(opcode, rd, unsigned(rm, 3, 'rm'), rs1, rs2, fmt) | (reg(rs3) << 27)) >>> 0;
}

type R3 = (rd: number, rs1: number, rs2: number, rm?: number) => number;
type R2 = (rd: number, rs1: number, rm?: number) => number;
type R4 = (rd: number, rs1: number, rs2: number, rs3: number, rm?: number) => number;
type Cmp = (rd: number, rs1: number, rs2: number) => number;
type One = (rd: number, rs1: number) => number;

function fmtOps(fmt: 0 | 1) {
  return {
    fadd: ((rd, rs1, rs2, rm = 7) => opFp(0x00, fmt, rd, rs1, rs2, rm)) as R3,
    fsub: ((rd, rs1, rs2, rm = 7) => opFp(0x01, fmt, rd, rs1, rs2, rm)) as R3,
    fmul: ((rd, rs1, rs2, rm = 7) => opFp(0x02, fmt, rd, rs1, rs2, rm)) as R3,
    fdiv: ((rd, rs1, rs2, rm = 7) => opFp(0x03, fmt, rd, rs1, rs2, rm)) as R3,
    fsqrt: ((rd, rs1, rm = 7) => opFp(0x0b, fmt, rd, rs1, 0, rm)) as R2,
    fsgnj: ((rd, rs1, rs2) => opFp(0x04, fmt, rd, rs1, rs2, 0)) as Cmp,
    fsgnjn: ((rd, rs1, rs2) => opFp(0x04, fmt, rd, rs1, rs2, 1)) as Cmp,
    fsgnjx: ((rd, rs1, rs2) => opFp(0x04, fmt, rd, rs1, rs2, 2)) as Cmp,
    fmin: ((rd, rs1, rs2) => opFp(0x05, fmt, rd, rs1, rs2, 0)) as Cmp,
    fmax: ((rd, rs1, rs2) => opFp(0x05, fmt, rd, rs1, rs2, 1)) as Cmp,
    feq: ((rd, rs1, rs2) => opFp(0x14, fmt, rd, rs1, rs2, 2)) as Cmp,
    flt: ((rd, rs1, rs2) => opFp(0x14, fmt, rd, rs1, rs2, 1)) as Cmp,
    fle: ((rd, rs1, rs2) => opFp(0x14, fmt, rd, rs1, rs2, 0)) as Cmp,
    fclass: ((rd, rs1) => opFp(0x1c, fmt, rd, rs1, 0, 1)) as One,
    /** fcvt.{w,wu,l,lu}.fmt: int rd from float rs1. */
    fcvtW: ((rd, rs1, rm = 7) => opFp(0x18, fmt, rd, rs1, 0, rm)) as R2,
    fcvtWU: ((rd, rs1, rm = 7) => opFp(0x18, fmt, rd, rs1, 1, rm)) as R2,
    fcvtL: ((rd, rs1, rm = 7) => opFp(0x18, fmt, rd, rs1, 2, rm)) as R2,
    fcvtLU: ((rd, rs1, rm = 7) => opFp(0x18, fmt, rd, rs1, 3, rm)) as R2,
    /** fcvt.fmt.{w,wu,l,lu}: float rd from int rs1. */
    fromW: ((rd, rs1, rm = 7) => opFp(0x1a, fmt, rd, rs1, 0, rm)) as R2,
    fromWU: ((rd, rs1, rm = 7) => opFp(0x1a, fmt, rd, rs1, 1, rm)) as R2,
    fromL: ((rd, rs1, rm = 7) => opFp(0x1a, fmt, rd, rs1, 2, rm)) as R2,
    fromLU: ((rd, rs1, rm = 7) => opFp(0x1a, fmt, rd, rs1, 3, rm)) as R2,
    /** fmv.x.{w,d}: raw bits to an integer register. */
    fmvX: ((rd, rs1) => opFp(0x1c, fmt, rd, rs1, 0, 0)) as One,
    /** fmv.{w,d}.x: raw bits from an integer register. */
    fmvFromX: ((rd, rs1) => opFp(0x1e, fmt, rd, rs1, 0, 0)) as One,
    fmadd: ((rd, rs1, rs2, rs3, rm = 7) => fma4(0x43, fmt, rd, rs1, rs2, rs3, rm)) as R4,
    fmsub: ((rd, rs1, rs2, rs3, rm = 7) => fma4(0x47, fmt, rd, rs1, rs2, rs3, rm)) as R4,
    fnmsub: ((rd, rs1, rs2, rs3, rm = 7) => fma4(0x4b, fmt, rd, rs1, rs2, rs3, rm)) as R4,
    fnmadd: ((rd, rs1, rs2, rs3, rm = 7) => fma4(0x4f, fmt, rd, rs1, rs2, rs3, rm)) as R4,
  };
}
/** Single-precision instructions: fs.fadd(rd, rs1, rs2, rm) is fadd.s. */
export const fs = fmtOps(0);
/** Double-precision instructions: fdd.fmul(...) is fmul.d. */
export const fdd = fmtOps(1);
export const fcvtSD = (rd: number, rs1: number, rm = 7): number => opFp(0x08, 0, rd, rs1, 1, rm);
export const fcvtDS = (rd: number, rs1: number, rm = 7): number => opFp(0x08, 1, rd, rs1, 0, rm);

// ---- C (unpriv ch. 16, RV64C). Each returns the 16-bit parcel. Registers written rd'
//      must be x8..x15 (f8..f15); immediates are the byte offsets/values as in assembly. ----

function creg(r: number): number {
  if (!Number.isInteger(r) || r < 8 || r > 15) throw new RangeError(`register ${r} is not one of x8..x15`);
  return r - 8;
}
function bit(v: number, i: number): number {
  return (v >>> i) & 1;
}
function bits(v: number, hi: number, lo: number): number {
  return (v >>> lo) & ((1 << (hi - lo + 1)) - 1);
}
function scaled(v: number, scale: number, bitsN: number, what: string): number {
  unsigned(v, bitsN, what);
  if (v % scale !== 0) throw new RangeError(`${what} ${v} is not a multiple of ${scale}`);
  return v;
}
function nz(v: number, what: string): number {
  if (v === 0) throw new RangeError(`${what} must be non-zero`);
  return v;
}
const ci = (f3: number, op: number, rd: number, imm6: number): number => (f3 << 13) | (bit(imm6, 5) << 12) | (rd << 7) | ((imm6 & 31) << 2) | op;

export function cAddi4spn(rd: number, nzuimm: number): number {
  const u = nz(scaled(nzuimm, 4, 10, 'nzuimm'), 'nzuimm');
  return (bits(u, 5, 4) << 11) | (bits(u, 9, 6) << 7) | (bit(u, 2) << 6) | (bit(u, 3) << 5) | (creg(rd) << 2);
}
function clsD(f3: number, r2: number, rs1: number, uimm: number): number {
  const u = scaled(uimm, 8, 8, 'offset');
  return (f3 << 13) | (bits(u, 5, 3) << 10) | (creg(rs1) << 7) | (bits(u, 7, 6) << 5) | (creg(r2) << 2);
}
function clsW(f3: number, r2: number, rs1: number, uimm: number): number {
  const u = scaled(uimm, 4, 7, 'offset');
  return (f3 << 13) | (bits(u, 5, 3) << 10) | (creg(rs1) << 7) | (bit(u, 2) << 6) | (bit(u, 6) << 5) | (creg(r2) << 2);
}
export const cFld = (rd: number, rs1: number, uimm: number): number => clsD(1, rd, rs1, uimm);
export const cLw = (rd: number, rs1: number, uimm: number): number => clsW(2, rd, rs1, uimm);
export const cLd = (rd: number, rs1: number, uimm: number): number => clsD(3, rd, rs1, uimm);
export const cFsd = (rs2: number, rs1: number, uimm: number): number => clsD(5, rs2, rs1, uimm);
export const cSw = (rs2: number, rs1: number, uimm: number): number => clsW(6, rs2, rs1, uimm);
export const cSd = (rs2: number, rs1: number, uimm: number): number => clsD(7, rs2, rs1, uimm);

export const cNop = (): number => 0x0001;
export const cAddi = (rd: number, imm: number): number => ci(0, 1, reg(rd), signed(imm, 6, 'imm') & 63);
export const cAddiw = (rd: number, imm: number): number => ci(1, 1, nz(reg(rd), 'rd'), signed(imm, 6, 'imm') & 63);
export const cLi = (rd: number, imm: number): number => ci(2, 1, reg(rd), signed(imm, 6, 'imm') & 63);
/** c.lui rd, nzimm: nzimm is the 6-bit upper immediate as written in assembly (1..0x1f or
 *  0xfffe0..0xfffff for negative values). */
export function cLui(rd: number, nzimm: number): number {
  if (rd === 0 || rd === 2) throw new RangeError('c.lui rd must not be x0 or x2');
  const v = nzimm >= 0xfffe0 ? nzimm - 0x100000 : nzimm;
  return ci(3, 1, rd, nz(signed(v, 6, 'nzimm'), 'nzimm') & 63);
}
export function cAddi16sp(nzimm: number): number {
  const v = nz(signed(nzimm, 10, 'nzimm'), 'nzimm');
  if (v % 16 !== 0) throw new RangeError(`c.addi16sp ${v} is not a multiple of 16`);
  const u = v & 0x3ff;
  return (3 << 13) | (bit(u, 9) << 12) | (2 << 7) | (bit(u, 4) << 6) | (bit(u, 6) << 5) | (bits(u, 8, 7) << 3) | (bit(u, 5) << 2) | 1;
}
const cAluImm = (f2: number, rd: number, imm6: number): number => (4 << 13) | (bit(imm6, 5) << 12) | (f2 << 10) | (creg(rd) << 7) | ((imm6 & 31) << 2) | 1;
export const cSrli = (rd: number, sh: number): number => cAluImm(0, rd, unsigned(sh, 6, 'shamt'));
export const cSrai = (rd: number, sh: number): number => cAluImm(1, rd, unsigned(sh, 6, 'shamt'));
export const cAndi = (rd: number, imm: number): number => cAluImm(2, rd, signed(imm, 6, 'imm') & 63);
const cAlu = (b12: number, f2: number, rd: number, rs2: number): number =>
  (4 << 13) | (b12 << 12) | (3 << 10) | (creg(rd) << 7) | (f2 << 5) | (creg(rs2) << 2) | 1;
export const cSub = (rd: number, rs2: number): number => cAlu(0, 0, rd, rs2);
export const cXor = (rd: number, rs2: number): number => cAlu(0, 1, rd, rs2);
export const cOr = (rd: number, rs2: number): number => cAlu(0, 2, rd, rs2);
export const cAnd = (rd: number, rs2: number): number => cAlu(0, 3, rd, rs2);
export const cSubw = (rd: number, rs2: number): number => cAlu(1, 0, rd, rs2);
export const cAddw = (rd: number, rs2: number): number => cAlu(1, 1, rd, rs2);
export function cJ(offset: number): number {
  signed(offset, 12, 'jump offset');
  if (offset & 1) throw new RangeError(`jump offset ${offset} is odd`);
  const o = offset & 0xfff;
  return (
    (5 << 13) |
    (bit(o, 11) << 12) |
    (bit(o, 4) << 11) |
    (bits(o, 9, 8) << 9) |
    (bit(o, 10) << 8) |
    (bit(o, 6) << 7) |
    (bit(o, 7) << 6) |
    (bits(o, 3, 1) << 3) |
    (bit(o, 5) << 2) |
    1
  );
}
function cBranch(f3: number, rs1: number, offset: number): number {
  signed(offset, 9, 'branch offset');
  if (offset & 1) throw new RangeError(`branch offset ${offset} is odd`);
  const o = offset & 0x1ff;
  return (f3 << 13) | (bit(o, 8) << 12) | (bits(o, 4, 3) << 10) | (creg(rs1) << 7) | (bits(o, 7, 6) << 5) | (bits(o, 2, 1) << 3) | (bit(o, 5) << 2) | 1;
}
export const cBeqz = (rs1: number, offset: number): number => cBranch(6, rs1, offset);
export const cBnez = (rs1: number, offset: number): number => cBranch(7, rs1, offset);
export const cSlli = (rd: number, sh: number): number => ci(0, 2, reg(rd), unsigned(sh, 6, 'shamt'));
function cLoadSp(f3: number, rd: number, uimm: number, wide: boolean): number {
  const u = wide ? scaled(uimm, 8, 9, 'offset') : scaled(uimm, 4, 8, 'offset');
  const lowField = wide ? (bits(u, 4, 3) << 3) | bits(u, 8, 6) : (bits(u, 4, 2) << 2) | bits(u, 7, 6);
  return (f3 << 13) | (bit(u, 5) << 12) | (reg(rd) << 7) | (lowField << 2) | 2;
}
export const cFldsp = (rd: number, uimm: number): number => cLoadSp(1, rd, uimm, true);
export const cLwsp = (rd: number, uimm: number): number => cLoadSp(2, nz(rd, 'rd'), uimm, false);
export const cLdsp = (rd: number, uimm: number): number => cLoadSp(3, nz(rd, 'rd'), uimm, true);
export const cJr = (rs1: number): number => (4 << 13) | (nz(reg(rs1), 'rs1') << 7) | 2;
export const cMv = (rd: number, rs2: number): number => (4 << 13) | (reg(rd) << 7) | (nz(reg(rs2), 'rs2') << 2) | 2;
export const cEbreak = (): number => 0x9002;
export const cJalr = (rs1: number): number => (4 << 13) | (1 << 12) | (nz(reg(rs1), 'rs1') << 7) | 2;
export const cAdd = (rd: number, rs2: number): number => (4 << 13) | (1 << 12) | (reg(rd) << 7) | (nz(reg(rs2), 'rs2') << 2) | 2;
function cStoreSp(f3: number, rs2: number, uimm: number, wide: boolean): number {
  const u = wide ? scaled(uimm, 8, 9, 'offset') : scaled(uimm, 4, 8, 'offset');
  const field = wide ? (bits(u, 5, 3) << 3) | bits(u, 8, 6) : (bits(u, 5, 2) << 2) | bits(u, 7, 6);
  return (f3 << 13) | (field << 7) | (reg(rs2) << 2) | 2;
}
export const cFsdsp = (rs2: number, uimm: number): number => cStoreSp(5, rs2, uimm, true);
export const cSwsp = (rs2: number, uimm: number): number => cStoreSp(6, rs2, uimm, false);
export const cSdsp = (rs2: number, uimm: number): number => cStoreSp(7, rs2, uimm, true);

/** Little-endian bytes of a program mixing 32-bit instructions and 16-bit parcels (a
 *  number whose bits 1:0 are 11 is 32-bit, anything else one compressed parcel). */
export function programBytes(program: readonly number[]): Uint8Array {
  const out: number[] = [];
  for (const v of program) {
    const n = (v & 3) === 3 ? 4 : 2;
    for (let i = 0; i < n; i++) out.push((v >>> (8 * i)) & 0xff);
  }
  return Uint8Array.from(out);
}
