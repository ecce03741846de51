// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum
// of the data taken as big-endian 16-bit words, an odd last byte padded with zero.

/** One's complement sum of data[start, end), folded to 16 bits, added to `initial`. */
export function onesSum(data: Uint8Array, start = 0, end = data.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (i < end) sum += data[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum field value for data[start, end) (the field itself zeroed or included). */
export function internetChecksum(data: Uint8Array, start = 0, end = data.length, initial = 0): number {
  return ~onesSum(data, start, end, initial) & 0xffff;
}

/**
 * The sum of the IPv4 pseudo-header that UDP and TCP checksums cover (RFC 768): source,
 * destination, zero, protocol, and the transport length.
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}
