// A tiny RV64I + Zicsr encoder, so unit tests build programs in memory without a
// toolchain. Every function returns the instruction as an unsigned 32-bit number and
// throws on an immediate the format cannot hold (a test bug, better caught here).
// Operand order follows the assembler: `sw rs2, imm(rs1)` is sw(rs2, rs1, imm).

export const Reg = {
  zero: 0, ra: 1, sp: 2, gp: 3, tp: 4, t0: 5, t1: 6, t2: 7, s0: 8, fp: 8, s1: 9,
  a0: 10, a1: 11, a2: 12, a3: 13, a4: 14, a5: 15, a6: 16, a7: 17,
  s2: 18, s3: 19, s4: 20, s5: 21, s6: 22, s7: 23, s8: 24, s9: 25, s10: 26, s11: 27,
  t3: 28, t4: 29, t5: 30, t6: 31,
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
  return (
    ((((imm >> 5) & 0x7f) << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (funct3 << 12) | ((imm & 31) << 7) | opcode) >>>
    0
  );
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
  return (
    ((((o >> 20) & 1) << 31) | (((o >> 1) & 0x3ff) << 21) | (((o >> 11) & 1) << 20) | (((o >> 12) & 0xff) << 12) | (reg(rd) << 7) | 0x6f) >>>
    0
  );
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
export const srai = (rd: number, rs1: number, sh: number): number =>
  (iType(0x13, rd, 5, rs1, unsigned(sh, 6, 'shamt')) | (0x10 << 26)) >>> 0;

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
export const sraiw = (rd: number, rs1: number, sh: number): number =>
  (iType(0x1b, rd, 5, rs1, unsigned(sh, 5, 'shamt')) | (0x20 << 25)) >>> 0;
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
export const wfi = (): number => 0x10500073;

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
