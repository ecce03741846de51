// The M extension (unpriv spec 20191213 ch. 7): 64-bit multiply and divide on (lo, hi)
// int32 register pairs, exactly, without BigInt. Products use Math.imul for the low word
// and 16-bit limbs for the high words (each partial product < 2^32 is exact in a double);
// quotients use doubles when both operands are below 2^53 (then trunc(n / d) is exact:
// the rounding error of n / d is below 1/|d|, the distance from any non-integer quotient to
// the next integer) and a shift-subtract loop otherwise.
//
// Division by zero and overflow do not trap (7.2): x / 0 = -1 (all ones, also unsigned),
// x % 0 = x, MIN / -1 = MIN, MIN % -1 = 0.
//
// Every function reads its operands before writing rd, which may be rs1 or rs2.

const TWO32 = 4294967296;

/** High 32 bits of the unsigned product of two 32-bit words, as a number in [0, 2^32). */
export function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
}

/** MUL: the low 64 bits of the product (the same for signed and unsigned operands). */
export function mul(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const al = xl[rs1]!;
  const bl = xl[rs2]!;
  const hi = mulhu32(al, bl) + Math.imul(al, xh[rs2]!) + Math.imul(xh[rs1]!, bl);
  xl[rd] = Math.imul(al, bl);
  xh[rd] = hi | 0;
}

/** MULW: the low 32 bits of the product, sign-extended. */
export function mulw(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const v = Math.imul(xl[rs1]!, xl[rs2]!);
  xl[rd] = v;
  xh[rd] = v >> 31;
}

// High 64 bits of a 128-bit product, left here by mulhuPair (no allocation).
let HI_LO = 0;
let HI_HI = 0;

/** The high 64 bits of the unsigned 128-bit product (al, ah) * (bl, bh) into HI_LO/HI_HI. */
function mulhuPair(al: number, ah: number, bl: number, bh: number): void {
  // Four 32x32 partial products, each as (low word, high word).
  const h00 = mulhu32(al, bl);
  const l01 = Math.imul(al, bh) >>> 0;
  const h01 = mulhu32(al, bh);
  const l10 = Math.imul(ah, bl) >>> 0;
  const h10 = mulhu32(ah, bl);
  const l11 = Math.imul(ah, bh) >>> 0;
  const h11 = mulhu32(ah, bh);
  // Column sums below 2^35 are exact as doubles.
  const c1 = Math.floor((h00 + l01 + l10) / TWO32);
  const t2 = h01 + h10 + l11 + c1;
  HI_LO = t2 | 0;
  HI_HI = (h11 + Math.floor(t2 / TWO32)) | 0;
}

/** (HI_LO, HI_HI) -= (lo, hi), mod 2^64. */
function subHi(lo: number, hi: number): void {
  const borrow = HI_LO >>> 0 < lo >>> 0 ? 1 : 0;
  HI_LO = (HI_LO - lo) | 0;
  HI_HI = (HI_HI - hi - borrow) | 0;
}

/** MULHU: high 64 bits of unsigned x unsigned. */
export function mulhu(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  mulhuPair(xl[rs1]!, xh[rs1]!, xl[rs2]!, xh[rs2]!);
  xl[rd] = HI_LO;
  xh[rd] = HI_HI;
}

/** MULH: high 64 bits of signed x signed. A negative operand read as unsigned is 2^64
 *  too large, so the unsigned high word over-counts the other operand once per such
 *  operand: subtract it. */
export function mulh(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const al = xl[rs1]!;
  const ah = xh[rs1]!;
  const bl = xl[rs2]!;
  const bh = xh[rs2]!;
  mulhuPair(al, ah, bl, bh);
  if (ah < 0) subHi(bl, bh);
  if (bh < 0) subHi(al, ah);
  xl[rd] = HI_LO;
  xh[rd] = HI_HI;
}

/** MULHSU: high 64 bits of signed rs1 x unsigned rs2. */
export function mulhsu(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const al = xl[rs1]!;
  const ah = xh[rs1]!;
  const bl = xl[rs2]!;
  const bh = xh[rs2]!;
  mulhuPair(al, ah, bl, bh);
  if (ah < 0) subHi(bl, bh);
  xl[rd] = HI_LO;
  xh[rd] = HI_HI;
}

// Quotient and remainder of udivmod, as pairs.
let Q_LO = 0;
let Q_HI = 0;
let R_LO = 0;
let R_HI = 0;

/** Unsigned 64-bit n / d (d != 0) into Q and R. */
function udivmod(nl: number, nh: number, dl: number, dh: number): void {
  const nhu = nh >>> 0;
  const dhu = dh >>> 0;
  if (nhu < 0x200000 && dhu < 0x200000) {
    // Both below 2^53: exact in doubles.
    const n = nhu * TWO32 + (nl >>> 0);
    const d = dhu * TWO32 + (dl >>> 0);
    const q = Math.floor(n / d);
    const r = n - q * d;
    Q_LO = q | 0;
    Q_HI = Math.floor(q / TWO32) | 0;
    R_LO = r | 0;
    R_HI = Math.floor(r / TWO32) | 0;
    return;
  }
  if (dhu === 0) {
    // A 32-bit divisor: schoolbook division by 16-bit digits keeps every partial
    // remainder times 2^16 below 2^48.
    const d = dl >>> 0;
    const qh = Math.floor(nhu / d);
    let r = nhu - qh * d;
    let cur = r * 65536 + (nl >>> 16);
    const q1 = Math.floor(cur / d);
    r = cur - q1 * d;
    cur = r * 65536 + (nl & 0xffff);
    const q0 = Math.floor(cur / d);
    r = cur - q0 * d;
    Q_LO = (q1 * 65536 + q0) | 0;
    Q_HI = qh | 0;
    R_LO = r | 0;
    R_HI = 0;
    return;
  }
  // Large divisor: the quotient fits 32 bits; restoring division one bit at a time.
  let rl = 0;
  let rh = 0;
  let ql = 0;
  let qh = 0;
  for (let i = 63; i >= 0; i--) {
    // r = r << 1 | bit i of n
    rh = (rh << 1) | (rl >>> 31);
    rl = (rl << 1) | ((i >= 32 ? nh >>> (i - 32) : nl >>> i) & 1);
    // q <<= 1
    qh = (qh << 1) | (ql >>> 31);
    ql <<= 1;
    if (rh >>> 0 > dhu || (rh >>> 0 === dhu && rl >>> 0 >= dl >>> 0)) {
      const borrow = rl >>> 0 < dl >>> 0 ? 1 : 0;
      rl = (rl - dl) | 0;
      rh = (rh - dh - borrow) | 0;
      ql |= 1;
    }
  }
  Q_LO = ql;
  Q_HI = qh;
  R_LO = rl;
  R_HI = rh;
}

/** Signed 64-bit division into Q and R, with the spec's results for 0 and overflow. */
function sdivmod(nl: number, nh: number, dl: number, dh: number): void {
  if (dl === 0 && dh === 0) {
    Q_LO = -1;
    Q_HI = -1;
    R_LO = nl;
    R_HI = nh;
    return;
  }
  if (dl === -1 && dh === -1 && nl === 0 && nh === (0x80000000 | 0)) {
    Q_LO = nl;
    Q_HI = nh;
    R_LO = 0;
    R_HI = 0;
    return;
  }
  if (nh >= -0x200000 && nh < 0x200000 && dh >= -0x200000 && dh < 0x200000) {
    const n = nh * TWO32 + (nl >>> 0);
    const d = dh * TWO32 + (dl >>> 0);
    const q = Math.trunc(n / d);
    const r = n % d; // sign of the dividend, as RISC-V's REM
    Q_LO = q | 0;
    Q_HI = Math.floor(q / TWO32) | 0;
    R_LO = r | 0;
    R_HI = Math.floor(r / TWO32) | 0;
    return;
  }
  const nNeg = nh < 0;
  const dNeg = dh < 0;
  let al = nl;
  let ah = nh;
  if (nNeg) {
    al = -nl | 0;
    ah = (~nh + (nl === 0 ? 1 : 0)) | 0;
  }
  let bl = dl;
  let bh = dh;
  if (dNeg) {
    bl = -dl | 0;
    bh = (~dh + (dl === 0 ? 1 : 0)) | 0;
  }
  udivmod(al, ah, bl, bh);
  if (nNeg !== dNeg) {
    const l = Q_LO;
    Q_LO = -l | 0;
    Q_HI = (~Q_HI + (l === 0 ? 1 : 0)) | 0;
  }
  if (nNeg) {
    const l = R_LO;
    R_LO = -l | 0;
    R_HI = (~R_HI + (l === 0 ? 1 : 0)) | 0;
  }
}

export function div(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  sdivmod(xl[rs1]!, xh[rs1]!, xl[rs2]!, xh[rs2]!);
  xl[rd] = Q_LO;
  xh[rd] = Q_HI;
}

export function rem(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  sdivmod(xl[rs1]!, xh[rs1]!, xl[rs2]!, xh[rs2]!);
  xl[rd] = R_LO;
  xh[rd] = R_HI;
}

export function divu(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const dl = xl[rs2]!;
  const dh = xh[rs2]!;
  if (dl === 0 && dh === 0) {
    xl[rd] = -1;
    xh[rd] = -1;
    return;
  }
  udivmod(xl[rs1]!, xh[rs1]!, dl, dh);
  xl[rd] = Q_LO;
  xh[rd] = Q_HI;
}

export function remu(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const dl = xl[rs2]!;
  const dh = xh[rs2]!;
  if (dl === 0 && dh === 0) {
    xl[rd] = xl[rs1]!;
    xh[rd] = xh[rs1]!;
    return;
  }
  udivmod(xl[rs1]!, xh[rs1]!, dl, dh);
  xl[rd] = R_LO;
  xh[rd] = R_HI;
}

// ---- W forms: 32-bit operands (the low words), results sign-extended from bit 31 ----

export function divw(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const n = xl[rs1]!;
  const d = xl[rs2]!;
  // 0 -> -1; MIN / -1 overflows to MIN, which (n / d) | 0 gives by wrapping 2^31.
  const v = d === 0 ? -1 : (n / d) | 0;
  xl[rd] = v;
  xh[rd] = v >> 31;
}

export function divuw(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const d = xl[rs2]! >>> 0;
  const v = d === 0 ? -1 : ((xl[rs1]! >>> 0) / d) | 0;
  xl[rd] = v;
  xh[rd] = v >> 31;
}

export function remw(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const n = xl[rs1]!;
  const d = xl[rs2]!;
  // MIN % -1 is 0 in JS as in RISC-V; only x % 0 (NaN in JS) needs its own answer.
  const v = d === 0 ? n : (n % d) | 0;
  xl[rd] = v;
  xh[rd] = v >> 31;
}

export function remuw(xl: Int32Array, xh: Int32Array, rd: number, rs1: number, rs2: number): void {
  const n = xl[rs1]! >>> 0;
  const d = xl[rs2]! >>> 0;
  const v = d === 0 ? n | 0 : (n % d) | 0;
  xl[rd] = v;
  xh[rd] = v >> 31;
}
