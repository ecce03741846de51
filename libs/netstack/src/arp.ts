// ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, lengths 6 and 4.
import { ETHERTYPE_IPV4, type Mac } from './ethernet.js';
import { readIp, writeIp } from './ipv4.js';
import { fail, hex, ok, type Parsed } from './parse.js';

export const ARP_LEN = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  operation: number;
  senderMac: Mac;
  senderIp: number;
  targetMac: Mac;
  targetIp: number;
}

export function parseArp(bytes: Uint8Array): Parsed<ArpPacket> {
  if (bytes.length < ARP_LEN) return fail('arp.truncated', `arp: length=${bytes.length} < ${ARP_LEN}`);
  const htype = (bytes[0]! << 8) | bytes[1]!;
  const ptype = (bytes[2]! << 8) | bytes[3]!;
  if (htype !== 1) return fail('arp.htype', `arp: htype=${htype}, only 1 (Ethernet) is served`);
  if (ptype !== ETHERTYPE_IPV4) return fail('arp.ptype', `arp: ptype=${hex(ptype)}, only 0x0800 (IPv4) is served`);
  if (bytes[4] !== 6 || bytes[5] !== 4) return fail('arp.lengths', `arp: hlen=${bytes[4]} plen=${bytes[5]}, expected 6 and 4`);
  const operation = (bytes[6]! << 8) | bytes[7]!;
  if (operation !== ARP_REQUEST && operation !== ARP_REPLY) return fail('arp.operation', `arp: operation=${operation}`);
  return ok({
    operation,
    senderMac: bytes.slice(8, 14),
    senderIp: readIp(bytes, 14),
    targetMac: bytes.slice(18, 24),
    targetIp: readIp(bytes, 24),
  });
}

export function buildArp(p: ArpPacket): Uint8Array {
  const b = new Uint8Array(ARP_LEN);
  b[1] = 1;
  b[2] = ETHERTYPE_IPV4 >>> 8;
  b[4] = 6;
  b[5] = 4;
  b[7] = p.operation;
  b.set(p.senderMac.subarray(0, 6), 8);
  writeIp(b, 14, p.senderIp);
  b.set(p.targetMac.subarray(0, 6), 18);
  writeIp(b, 24, p.targetIp);
  return b;
}
