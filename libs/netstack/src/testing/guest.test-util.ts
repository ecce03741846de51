// A tiny guest for specs: builds the frames a boot loader would send and decodes what the
// gateway answers. Not part of the library build (*.test-util.ts).
import { expect } from 'vitest';
import { ARP_REQUEST, buildArp } from '../arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, buildEthernet, parseEthernet, type Mac } from '../ethernet.js';
import { Gateway, type GatewayOptions } from '../gateway.js';
import { PROTO_UDP, buildIpv4, parseIpv4, type Ipv4Packet } from '../ipv4.js';
import { UDP_HEADER_LEN, buildUdp, parseUdp, type UdpDatagram } from '../udp.js';

export const GUEST_MAC: Mac = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
export const GW = 0x0a000202;
export const DNS = 0x0a000203;

export interface Harness {
  gw: Gateway;
  out: Uint8Array[];
  /** Removes and returns what the gateway has sent so far. */
  take(): Uint8Array[];
}

export function harness(opts: Omit<GatewayOptions, 'send'> = {}): Harness {
  const out: Uint8Array[] = [];
  const gw = new Gateway({ ...opts, send: (f) => out.push(f) });
  return { gw, out, take: () => out.splice(0) };
}

/** A UDP datagram in IPv4 in Ethernet; `zeroChecksum` as U-Boot sends it. */
export function udpFrame(o: {
  srcMac?: Mac;
  dstMac?: Mac;
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  zeroChecksum?: boolean;
}): Uint8Array {
  let udp: Uint8Array;
  if (o.zeroChecksum) {
    udp = new Uint8Array(UDP_HEADER_LEN + o.payload.length);
    new DataView(udp.buffer).setUint16(0, o.srcPort);
    new DataView(udp.buffer).setUint16(2, o.dstPort);
    new DataView(udp.buffer).setUint16(4, udp.length);
    udp.set(o.payload, UDP_HEADER_LEN);
  } else {
    udp = buildUdp(o.src, o.dst, o.srcPort, o.dstPort, o.payload);
  }
  const ip = buildIpv4({ src: o.src, dst: o.dst, protocol: PROTO_UDP }, udp);
  return buildEthernet(o.dstMac ?? BROADCAST_MAC, o.srcMac ?? GUEST_MAC, ETHERTYPE_IPV4, ip);
}

export function arpRequest(targetIp: number, senderIp = 0x0a00020f, senderMac: Mac = GUEST_MAC): Uint8Array {
  const arp = buildArp({ operation: ARP_REQUEST, senderMac, senderIp, targetMac: new Uint8Array(6), targetIp });
  return buildEthernet(BROADCAST_MAC, senderMac, ETHERTYPE_ARP, arp);
}

export interface DecodedUdp {
  dstMac: Mac;
  srcMac: Mac;
  ip: Ipv4Packet;
  udp: UdpDatagram;
  /** The UDP checksum field as sent. */
  checksum: number;
}

/** Decodes a frame the gateway sent, checking every header and checksum on the way. */
export function decodeUdp(frame: Uint8Array): DecodedUdp {
  const eth = parseEthernet(frame);
  if (!eth.ok) throw new Error(eth.detail);
  expect(eth.value.etherType).toBe(ETHERTYPE_IPV4);
  const ip = parseIpv4(eth.value.payload);
  if (!ip.ok) throw new Error(ip.detail);
  expect(ip.value.protocol).toBe(PROTO_UDP);
  const checksum = (ip.value.payload[6]! << 8) | ip.value.payload[7]!;
  expect(checksum).not.toBe(0); // the gateway always computes it
  const udp = parseUdp(ip.value.src, ip.value.dst, ip.value.payload);
  if (!udp.ok) throw new Error(udp.detail);
  return { dstMac: eth.value.dst, srcMac: eth.value.src, ip: ip.value, udp: udp.value, checksum };
}
