// IPv4 (RFC 791) without options on send and without reassembly: a fragment is refused
// (counted), which is enough for a gateway whose peers are boot loaders and small guests.
import { internetChecksum } from './checksum.js';
import { fail, hex, ok, type Parsed } from './parse.js';

export const IPV4_HEADER_LEN = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const IP_BROADCAST = 0xffffffff;

export interface Ipv4Packet {
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  id: number;
  /** The header, options included (ICMP errors quote it). */
  header: Uint8Array;
  payload: Uint8Array;
}

export function readIp(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function writeIp(b: Uint8Array, at: number, ip: number): void {
  b[at] = ip >>> 24;
  b[at + 1] = (ip >>> 16) & 0xff;
  b[at + 2] = (ip >>> 8) & 0xff;
  b[at + 3] = ip & 0xff;
}

export function ipToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

export function parseIp(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`ipv4: "${text}" is not a dotted-quad address`);
  }
  return parts.reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
}

/** "10.0.2.0/24" -> network address and mask. */
export function parseCidr(text: string): { network: number; mask: number; prefix: number } {
  const [addr, len] = text.split('/');
  const prefix = Number(len);
  if (addr === undefined || len === undefined || !Number.isInteger(prefix) || prefix < 1 || prefix > 30) {
    throw new Error(`net: "${text}" is not an address/prefix with a prefix of 1..30`);
  }
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (parseIp(addr) & mask) >>> 0, mask, prefix };
}

export function parseIpv4(bytes: Uint8Array): Parsed<Ipv4Packet> {
  if (bytes.length < IPV4_HEADER_LEN) return fail('ipv4.truncated', `ipv4: length=${bytes.length} < ${IPV4_HEADER_LEN}`);
  const version = bytes[0]! >>> 4;
  const ihl = bytes[0]! & 0x0f;
  if (version !== 4) return fail('ipv4.version', `ipv4: version=${version}`);
  if (ihl < 5) return fail('ipv4.ihl', `ipv4: ihl=${ihl} < 5`);
  const headerLen = ihl * 4;
  const totalLength = (bytes[2]! << 8) | bytes[3]!;
  if (totalLength < headerLen || totalLength > bytes.length) {
    return fail('ipv4.totalLength', `ipv4: totalLength=${totalLength}, header ${headerLen}, ${bytes.length} bytes present`);
  }
  const sum = internetChecksum(bytes, 0, headerLen);
  if (sum !== 0) {
    const field = (bytes[10]! << 8) | bytes[11]!;
    return fail('ipv4.checksum', `ipv4: checksum=${hex(field)} does not verify`);
  }
  const flagsFrag = (bytes[6]! << 8) | bytes[7]!;
  const moreFragments = (flagsFrag & 0x2000) !== 0;
  const offset = flagsFrag & 0x1fff;
  if (moreFragments || offset !== 0) {
    return fail('ipv4.fragment', `ipv4: fragment (MF=${moreFragments ? 1 : 0}, offset=${offset * 8}); reassembly is not supported`);
  }
  return ok({
    src: readIp(bytes, 12),
    dst: readIp(bytes, 16),
    protocol: bytes[9]!,
    ttl: bytes[8]!,
    id: (bytes[4]! << 8) | bytes[5]!,
    header: bytes.subarray(0, headerLen),
    // Trailing bytes past totalLength are Ethernet padding.
    payload: bytes.subarray(headerLen, totalLength),
  });
}

export interface Ipv4Header {
  src: number;
  dst: number;
  protocol: number;
  ttl?: number;
  id?: number;
}

/** A 20-byte header (DF set, no options) with its checksum, followed by the payload. */
export function buildIpv4(h: Ipv4Header, payload: Uint8Array): Uint8Array {
  const total = IPV4_HEADER_LEN + payload.length;
  if (total > 0xffff) throw new RangeError(`ipv4: totalLength=${total} > 65535`);
  const b = new Uint8Array(total);
  b[0] = 0x45;
  b[2] = total >>> 8;
  b[3] = total & 0xff;
  const id = h.id ?? 0;
  b[4] = (id >>> 8) & 0xff;
  b[5] = id & 0xff;
  b[6] = 0x40;
  b[8] = h.ttl ?? 64;
  b[9] = h.protocol;
  writeIp(b, 12, h.src);
  writeIp(b, 16, h.dst);
  const sum = internetChecksum(b, 0, IPV4_HEADER_LEN);
  b[10] = sum >>> 8;
  b[11] = sum & 0xff;
  b.set(payload, IPV4_HEADER_LEN);
  return b;
}
