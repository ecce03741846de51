// A slow, obviously exact reference for the FPU specs: operands as BigInt rationals,
// results rounded by integer arithmetic in any mode, flags per IEEE 754-2008 with
// tininess after rounding (as RISC-V). Test-only: allocation and BigInt everywhere.

export interface Fmt {
  p: number;
  emin: number;
  emax: number;
  bits: number;
}
export const S: Fmt = { p: 24, emin: -126, emax: 127, bits: 32 };
export const D: Fmt = { p: 53, emin: -1022, emax: 1023, bits: 64 };

export const F_NX = 1;
export const F_UF = 2;
export const F_OF = 4;

/** A finite value: (-1)^neg * m * 2^e. */
export interface Exact {
  neg: boolean;
  m: bigint;
  e: number;
}

export function decode(bits: bigint, f: Fmt): Exact | null {
  const fracBits = BigInt(f.p - 1);
  const expBits = f.bits - f.p;
  const neg = (bits >> BigInt(f.bits - 1)) & 1n ? true : false;
  const ex = Number((bits >> fracBits) & ((1n << BigInt(expBits)) - 1n));
  const frac = bits & ((1n << fracBits) - 1n);
  const bias = f.emax;
  if (ex === (1 << expBits) - 1) return null; // inf / NaN
  if (ex === 0) return { neg, m: frac, e: f.emin - (f.p - 1) };
  return { neg, m: frac | (1n << fracBits), e: ex - bias - (f.p - 1) };
}

function bitlen(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function pick(fl: bigint, cls: number, rm: number, neg: boolean): bigint {
  if (cls === 0) return fl;
  switch (rm) {
    case 0:
      return cls === 1 ? fl : cls === 3 ? fl + 1n : fl % 2n === 0n ? fl : fl + 1n;
    case 4:
      return cls === 1 ? fl : fl + 1n;
    case 1:
      return fl;
    case 2:
      return neg ? fl + 1n : fl;
    default:
      return neg ? fl : fl + 1n;
  }
}

/** Rounds neg * N/D * 2^e2 (N > 0) to f in mode rm: [bits, flags]. */
export function roundRational(neg: boolean, N: bigint, Dn: bigint, e2: number, f: Fmt, rm: number): [bigint, number] {
  // E = floor(log2(N/D)) + e2
  let E = bitlen(N) - bitlen(Dn);
  const ge = (k: number): boolean => (k >= 0 ? N >= Dn << BigInt(k) : N << BigInt(-k) >= Dn);
  if (!ge(E)) E -= 1;
  E += e2;
  const at = (qe: number): [bigint, number] => {
    const sh = qe - e2;
    const num = sh < 0 ? N << BigInt(-sh) : N;
    const den = sh > 0 ? Dn << BigInt(sh) : Dn;
    const I = num / den;
    const R = num % den;
    const cls = R === 0n ? 0 : 2n * R < den ? 1 : 2n * R === den ? 2 : 3;
    return [pick(I, cls, rm, neg), cls];
  };
  const qe = Math.max(E, f.emin) - (f.p - 1);
  const [n, cls] = at(qe);
  let flags = cls !== 0 ? F_NX : 0;
  if (cls !== 0 && E < f.emin) {
    const qu = E - (f.p - 1);
    const [nu] = at(qu);
    // nu * 2^qu < 2^emin ?
    if (bitlen(nu) - 1 + qu < f.emin) flags |= F_UF;
  }
  const signBit = neg ? 1n << BigInt(f.bits - 1) : 0n;
  if (n === 0n) return [signBit, flags];
  const eRes = bitlen(n) - 1 + qe;
  const expBits = f.bits - f.p;
  if (eRes > f.emax) {
    const toInf = rm === 0 || rm === 4 || (rm === 3 && !neg) || (rm === 2 && neg);
    const inf = ((1n << BigInt(expBits)) - 1n) << BigInt(f.p - 1);
    const max = inf - 1n;
    return [signBit | (toInf ? inf : max), flags | F_OF | F_NX];
  }
  if (eRes < f.emin) {
    // subnormal: n * 2^qe with qe = emin - p + 1
    return [signBit | n, flags];
  }
  const norm = eRes - (f.p - 1) - qe; // 0 normally, 1 if n carried to 2^p
  const m = n >> BigInt(norm);
  const frac = m - (1n << BigInt(f.p - 1));
  return [signBit | (BigInt(eRes + f.emax) << BigInt(f.p - 1)) | frac, flags];
}

/** Exact sum of finite values as (neg, mag, e) or null when exactly zero. */
export function add(a: Exact, b: Exact): Exact | null {
  const e = Math.min(a.e, b.e);
  const av = (a.neg ? -a.m : a.m) << BigInt(a.e - e);
  const bv = (b.neg ? -b.m : b.m) << BigInt(b.e - e);
  const s = av + bv;
  if (s === 0n) return null;
  return { neg: s < 0n, m: s < 0n ? -s : s, e };
}

export function mul(a: Exact, b: Exact): Exact {
  return { neg: a.neg !== b.neg, m: a.m * b.m, e: a.e + b.e };
}

export function roundExact(x: Exact, f: Fmt, rm: number): [bigint, number] {
  return roundRational(x.neg, x.m, 1n, x.e, f, rm);
}

export function div(a: Exact, b: Exact, f: Fmt, rm: number): [bigint, number] {
  return roundRational(a.neg !== b.neg, a.m, b.m, a.e - b.e, f, rm);
}

/** sqrt of a positive finite value, rounded (via a 200-extra-bit integer sqrt + sticky). */
export function sqrt(a: Exact, f: Fmt, rm: number): [bigint, number] {
  let m = a.m;
  let e = a.e;
  if (e % 2 !== 0) {
    m <<= 1n;
    e -= 1;
  }
  const K = 400; // even
  const N = m << BigInt(K);
  let r = 1n << BigInt(Math.ceil(bitlen(N) / 2)); // above the root; Newton descends
  for (;;) {
    const nr = (r + N / r) >> 1n;
    if (nr >= r) break;
    r = nr;
  }
  while (r * r > N) r -= 1n;
  while ((r + 1n) * (r + 1n) <= N) r += 1n;
  const exact = r * r === N;
  // value = (r + sticky) * 2^((e - K) / 2); sticky as a tiny extra bit below r.
  const num = exact ? r : (r << 1n) | 1n;
  const sh = exact ? 0 : 1;
  return roundRational(false, num, 1n, (e - K) / 2 - sh, f, rm);
}

export function bitsOfDouble(x: number): bigint {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x, true);
  return b.getBigUint64(0, true);
}
export function doubleOfBits(b: bigint): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, b, true);
  return v.getFloat64(0, true);
}
export function bitsOfSingle(x: number): bigint {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x, true);
  return BigInt(b.getUint32(0, true));
}
export function singleOfBits(b: bigint): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, Number(b), true);
  return v.getFloat32(0, true);
}
