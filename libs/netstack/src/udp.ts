// UDP (RFC 768). The checksum is always computed on send; on receive a zero checksum means
// "none" (U-Boot sends zero) and anything else must verify over the pseudo-header.
import { onesSum, pseudoHeaderSum } from './checksum.js';
import { PROTO_UDP } from './ipv4.js';
import { fail, hex, ok, type Parsed } from './parse.js';

export const UDP_HEADER_LEN = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export function parseUdp(src: number, dst: number, bytes: Uint8Array): Parsed<UdpDatagram> {
  if (bytes.length < UDP_HEADER_LEN) return fail('udp.truncated', `udp: length=${bytes.length} < ${UDP_HEADER_LEN}`);
  const length = (bytes[4]! << 8) | bytes[5]!;
  if (length < UDP_HEADER_LEN || length > bytes.length) {
    return fail('udp.length', `udp: length=${length}, ${bytes.length} bytes present`);
  }
  const field = (bytes[6]! << 8) | bytes[7]!;
  if (field !== 0) {
    const sum = onesSum(bytes, 0, length, pseudoHeaderSum(src, dst, PROTO_UDP, length));
    if (sum !== 0xffff) return fail('udp.checksum', `udp: checksum=${hex(field)} does not verify`);
  }
  return ok({
    srcPort: (bytes[0]! << 8) | bytes[1]!,
    dstPort: (bytes[2]! << 8) | bytes[3]!,
    payload: bytes.subarray(UDP_HEADER_LEN, length),
  });
}

export function buildUdp(src: number, dst: number, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const length = UDP_HEADER_LEN + payload.length;
  const b = new Uint8Array(length);
  b[0] = srcPort >>> 8;
  b[1] = srcPort & 0xff;
  b[2] = dstPort >>> 8;
  b[3] = dstPort & 0xff;
  b[4] = length >>> 8;
  b[5] = length & 0xff;
  b.set(payload, UDP_HEADER_LEN);
  // A computed zero is sent as 0xffff: zero on the wire means "no checksum".
  const sum = ~onesSum(b, 0, length, pseudoHeaderSum(src, dst, PROTO_UDP, length)) & 0xffff || 0xffff;
  b[6] = sum >>> 8;
  b[7] = sum & 0xff;
  return b;
}
