// Ethernet II framing (DIX): destination, source, EtherType, payload. Frames arrive here
// without preamble or FCS, as virtio-net and a tap device hand them over.
import { fail, hex, ok, type Parsed } from './parse.js';

export const ETH_HEADER_LEN = 14;
/** 1500 bytes of payload plus the header; no 802.1Q tag, no jumbo frames. */
export const ETH_MAX_FRAME = 1514;
/** The 64-byte minimum less the 4-byte FCS the wire would add. */
export const ETH_MIN_FRAME = 60;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

export type Mac = Uint8Array;
export const BROADCAST_MAC: Mac = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export interface EthernetFrame {
  dst: Mac;
  src: Mac;
  etherType: number;
  payload: Uint8Array;
}

export function parseEthernet(frame: Uint8Array): Parsed<EthernetFrame> {
  if (frame.length < ETH_HEADER_LEN) return fail('ethernet.truncated', `ethernet: frame length=${frame.length} < ${ETH_HEADER_LEN}`);
  if (frame.length > ETH_MAX_FRAME) return fail('ethernet.oversized', `ethernet: frame length=${frame.length} > ${ETH_MAX_FRAME}`);
  const etherType = (frame[12]! << 8) | frame[13]!;
  if (etherType < 0x0600) {
    return fail('ethernet.etherType', `ethernet: etherType=${hex(etherType)} is an 802.3 length, not an Ethernet II type`);
  }
  return ok({ dst: frame.subarray(0, 6), src: frame.subarray(6, 12), etherType, payload: frame.subarray(ETH_HEADER_LEN) });
}

/** A frame padded to the 60-byte minimum, as a NIC would put it on the wire. */
export function buildEthernet(dst: Mac, src: Mac, etherType: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(Math.max(ETH_MIN_FRAME, ETH_HEADER_LEN + payload.length));
  frame.set(dst.subarray(0, 6), 0);
  frame.set(src.subarray(0, 6), 6);
  frame[12] = etherType >>> 8;
  frame[13] = etherType & 0xff;
  frame.set(payload, ETH_HEADER_LEN);
  return frame;
}

export function macEquals(a: Mac, b: Mac): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return a.length >= 6 && b.length >= 6;
}

export function isBroadcastMac(mac: Mac): boolean {
  return macEquals(mac, BROADCAST_MAC);
}

/** Group bit (I/G) of the first octet: broadcast and multicast. */
export function isMulticastMac(mac: Mac): boolean {
  return (mac[0]! & 1) === 1;
}

export function macToString(mac: Mac): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(text: string): Mac {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`mac: "${text}" is not six colon-separated hex octets`);
  }
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}
