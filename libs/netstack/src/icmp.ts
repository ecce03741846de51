// ICMP (RFC 792): echo request/reply and the destination-unreachable errors the gateway
// sends for ports and protocols it does not serve.
import { internetChecksum } from './checksum.js';
import { fail, hex, ok, type Parsed } from './parse.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const UNREACHABLE_PROTOCOL = 2;
export const UNREACHABLE_PORT = 3;
export const ICMP_HEADER_LEN = 8;

export interface IcmpMessage {
  type: number;
  code: number;
  /** Bytes 4..8: identifier and sequence for echo, unused for unreachable. */
  rest: Uint8Array;
  data: Uint8Array;
}

export function parseIcmp(bytes: Uint8Array): Parsed<IcmpMessage> {
  if (bytes.length < ICMP_HEADER_LEN) return fail('icmp.truncated', `icmp: length=${bytes.length} < ${ICMP_HEADER_LEN}`);
  if (internetChecksum(bytes) !== 0) {
    return fail('icmp.checksum', `icmp: checksum=${hex((bytes[2]! << 8) | bytes[3]!)} does not verify`);
  }
  return ok({ type: bytes[0]!, code: bytes[1]!, rest: bytes.subarray(4, 8), data: bytes.subarray(ICMP_HEADER_LEN) });
}

export function buildIcmp(type: number, code: number, rest: Uint8Array, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(ICMP_HEADER_LEN + data.length);
  b[0] = type;
  b[1] = code;
  b.set(rest.subarray(0, 4), 4);
  b.set(data, ICMP_HEADER_LEN);
  const sum = internetChecksum(b);
  b[2] = sum >>> 8;
  b[3] = sum & 0xff;
  return b;
}

/** The echo reply carries the request's identifier, sequence and data unchanged. */
export function buildEchoReply(request: IcmpMessage): Uint8Array {
  return buildIcmp(ICMP_ECHO_REPLY, 0, request.rest, request.data);
}

/** Quotes the offending datagram's IP header and its first 64 bits of data (RFC 792). */
export function buildUnreachable(code: number, ipHeader: Uint8Array, ipPayload: Uint8Array): Uint8Array {
  const quote = new Uint8Array(ipHeader.length + Math.min(8, ipPayload.length));
  quote.set(ipHeader, 0);
  quote.set(ipPayload.subarray(0, 8), ipHeader.length);
  return buildIcmp(ICMP_DEST_UNREACHABLE, code, new Uint8Array(4), quote);
}
