// BOOTP (RFC 951) messages with the DHCP options area (RFC 2131 §2, RFC 2132). Only the
// fixed header and the `options` field are read: option overload (52) is never set by the
// clients we serve and is refused on parse rather than half-understood.
import { readIp, writeIp } from './ipv4.js';
import { fail, hex, ok, type Parsed } from './parse.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** op..file: the fixed part of a BOOTP message. */
export const BOOTP_FIXED_LEN = 236;
export const MAGIC_COOKIE = 0x63825363;
/** RFC 951 messages are at least 300 bytes; we pad replies to that. */
export const BOOTP_MIN_LEN = 300;
/** U-Boot drops a reply longer than its struct bootp_hdr (236 + 312 bytes of options). */
export const BOOTP_MAX_LEN = 548;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_OVERLOAD = 52;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_MESSAGE = 56;
export const OPT_BOOTFILE_NAME = 67;
export const OPT_END = 255;

export interface DhcpMessage {
  op: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  chaddr: Uint8Array;
  /** `file`, up to its first NUL. */
  file: string;
  /** Options in order of appearance; a repeated code keeps its last value. */
  options: Map<number, Uint8Array>;
}

export function parseDhcp(bytes: Uint8Array): Parsed<DhcpMessage> {
  if (bytes.length < BOOTP_FIXED_LEN + 4) {
    return fail('dhcp.truncated', `dhcp: length=${bytes.length} < ${BOOTP_FIXED_LEN + 4}`);
  }
  if (bytes[1] !== 1 || bytes[2] !== 6) return fail('dhcp.htype', `dhcp: htype=${bytes[1]} hlen=${bytes[2]}, expected 1 and 6`);
  const cookie = readIp(bytes, BOOTP_FIXED_LEN);
  if (cookie !== MAGIC_COOKIE) return fail('dhcp.cookie', `dhcp: magic cookie=${hex(cookie, 8)}`);
  const options = new Map<number, Uint8Array>();
  let i = BOOTP_FIXED_LEN + 4;
  let ended = false;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (code === OPT_END) {
      ended = true;
      break;
    }
    if (i + 1 >= bytes.length) return fail('dhcp.option', `dhcp: option ${code} at offset ${i} has no length byte`);
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) return fail('dhcp.option', `dhcp: option ${code} length=${len} runs past the end`);
    options.set(code, bytes.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  if (!ended) return fail('dhcp.option', 'dhcp: options have no end marker (255)');
  if (options.has(OPT_OVERLOAD)) return fail('dhcp.overload', `dhcp: option overload=${options.get(OPT_OVERLOAD)![0]} is not supported`);
  const fileBytes = bytes.subarray(108, 236);
  const nul = fileBytes.indexOf(0);
  return ok({
    op: bytes[0]!,
    xid: readIp(bytes, 4),
    secs: (bytes[8]! << 8) | bytes[9]!,
    flags: (bytes[10]! << 8) | bytes[11]!,
    ciaddr: readIp(bytes, 12),
    yiaddr: readIp(bytes, 16),
    siaddr: readIp(bytes, 20),
    giaddr: readIp(bytes, 24),
    chaddr: bytes.slice(28, 34),
    file: new TextDecoder().decode(nul < 0 ? fileBytes : fileBytes.subarray(0, nul)),
    options,
  });
}

/** The DHCP message type (option 53), or undefined for plain BOOTP. */
export function messageType(m: DhcpMessage): number | undefined {
  const v = m.options.get(OPT_MESSAGE_TYPE);
  return v && v.length === 1 ? v[0] : undefined;
}

export function optionIp(m: DhcpMessage, code: number): number | undefined {
  const v = m.options.get(code);
  return v && v.length === 4 ? readIp(v, 0) : undefined;
}

export function ipOption(ip: number): Uint8Array {
  const b = new Uint8Array(4);
  writeIp(b, 0, ip);
  return b;
}

export function u32Option(n: number): Uint8Array {
  return ipOption(n >>> 0);
}

/** Serializes a message; options are written in the Map's order, then END, then padding. */
export function buildDhcp(m: DhcpMessage): Uint8Array {
  let optLen = 4 + 1;
  for (const v of m.options.values()) optLen += 2 + v.length;
  const size = Math.max(BOOTP_MIN_LEN, BOOTP_FIXED_LEN + optLen);
  if (size > BOOTP_MAX_LEN) throw new RangeError(`dhcp: message of ${size} bytes > ${BOOTP_MAX_LEN}`);
  const b = new Uint8Array(size);
  b[0] = m.op;
  b[1] = 1;
  b[2] = 6;
  writeIp(b, 4, m.xid);
  b[8] = m.secs >>> 8;
  b[9] = m.secs & 0xff;
  b[10] = m.flags >>> 8;
  b[11] = m.flags & 0xff;
  writeIp(b, 12, m.ciaddr);
  writeIp(b, 16, m.yiaddr);
  writeIp(b, 20, m.siaddr);
  writeIp(b, 24, m.giaddr);
  b.set(m.chaddr.subarray(0, 16), 28);
  const file = new TextEncoder().encode(m.file);
  if (file.length > 127) throw new RangeError(`dhcp: file="${m.file}" is longer than 127 bytes`);
  b.set(file, 108);
  writeIp(b, BOOTP_FIXED_LEN, MAGIC_COOKIE);
  let i = BOOTP_FIXED_LEN + 4;
  for (const [code, v] of m.options) {
    if (v.length > 255) throw new RangeError(`dhcp: option ${code} length=${v.length} > 255`);
    b[i] = code;
    b[i + 1] = v.length;
    b.set(v, i + 2);
    i += 2 + v.length;
  }
  b[i] = OPT_END;
  return b;
}
