// 64-bit values as (lo, hi) pairs of int32, the hart's native representation. BigInt is
// for tests and debugging only: the hot path never allocates, and BigInt always does.

const TWO32 = 4294967296;

/** Below this magnitude a signed 64-bit value is exact as a double (2^53). */
export const EXACT_LIMIT = 2 ** 53;

/** The signed 64-bit value of a pair as a double; exact when |hi| < 2^21. */
export function pairToNumber(lo: number, hi: number): number {
  return hi * TWO32 + (lo >>> 0);
}

/** True when the signed value of (lo, hi) lies strictly within +-2^53. */
export function pairIsExact(_lo: number, hi: number): boolean {
  return hi >= -0x200000 && hi < 0x200000;
}

/** Low word of an integral double in two's complement (ToInt32 wraps mod 2^32). */
export function numLo(n: number): number {
  return n | 0;
}

/** High word of an integral double (|n| < 2^53) in two's complement. */
export function numHi(n: number): number {
  return Math.floor(n / TWO32) | 0;
}

export function pairToBigInt(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
}

export function pairToBigUint(lo: number, hi: number): bigint {
  return BigInt.asUintN(64, pairToBigInt(lo, hi));
}

/** Splits any bigint (taken mod 2^64) into [lo, hi] int32 words. */
export function bigIntToPair(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0];
}

/** Hex of the unsigned 64-bit value of a pair, for messages. */
export function pairHex(lo: number, hi: number): string {
  return '0x' + pairToBigUint(lo, hi).toString(16);
}
