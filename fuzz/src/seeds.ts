// Writes the seed corpus of the binary formats made by our own builders (the DTB comes
// from QEMU's dumpdtb, the ELF from guests/, the configs from examples/: copied by hand).
// `node fuzz/dist/seeds.js`; the files are committed, so this runs only when a format changes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ARP_REQUEST,
  BROADCAST_MAC,
  DHCPDISCOVER,
  DHCPREQUEST,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IP_BROADCAST,
  OP_RRQ,
  PROTO_ICMP,
  PROTO_UDP,
  buildAck,
  buildArp,
  buildDhcp,
  buildEthernet,
  buildIcmp,
  buildIpv4,
  buildRequest,
  buildUdp,
  parseIp,
  parseMac,
} from '@splitvisor/netstack';

const CORPUS = fileURLToPath(new URL('../corpus/', import.meta.url));
const MAC = parseMac('52:54:00:12:34:56');
const GW_MAC = parseMac('52:55:0a:00:02:02');
const GW = parseIp('10.0.2.2');
const GUEST = parseIp('10.0.2.15');

function save(target: string, name: string, data: Uint8Array): void {
  mkdirSync(join(CORPUS, target), { recursive: true });
  writeFileSync(join(CORPUS, target, name), data);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

const dhcp = (type: number, extra: [number, Uint8Array][] = []) =>
  buildDhcp({
    op: 1,
    xid: 0x12345678,
    secs: 0,
    flags: 0x8000,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: MAC,
    file: '',
    options: new Map([[53, Uint8Array.of(type)], ...extra]),
  });
const discover = dhcp(DHCPDISCOVER);
const request = dhcp(DHCPREQUEST, [
  [50, Uint8Array.of(10, 0, 2, 15)],
  [54, Uint8Array.of(10, 0, 2, 2)],
]);
const rrq = buildRequest(
  OP_RRQ,
  'boot.bin',
  'octet',
  new Map([
    ['blksize', '1468'],
    ['tsize', '0'],
    ['timeout', '1'],
    ['windowsize', '4'],
  ]),
);
const arp = buildArp({ operation: ARP_REQUEST, senderMac: MAC, senderIp: GUEST, targetMac: new Uint8Array(6), targetIp: GW });
const ping = buildIcmp(8, 0, Uint8Array.of(0, 1, 0, 1), new TextEncoder().encode('splitvisor'));
const udpTo = (src: number, dst: number, sport: number, dport: number, payload: Uint8Array) => buildUdp(src, dst, sport, dport, payload);
const ipFrame = (dstMac: Uint8Array, src: number, dst: number, proto: number, payload: Uint8Array) =>
  buildEthernet(dstMac, MAC, ETHERTYPE_IPV4, buildIpv4({ src, dst, protocol: proto }, payload));

save('arp', 'request', arp);
save('icmp', 'echo-request', ping);
save('ipv4', 'icmp-echo', buildIpv4({ src: GUEST, dst: GW, protocol: PROTO_ICMP }, ping));
save('ipv4', 'udp-dhcp', buildIpv4({ src: 0, dst: IP_BROADCAST, protocol: PROTO_UDP }, udpTo(0, IP_BROADCAST, 68, 67, discover)));
const addrs = Uint8Array.of(10, 0, 2, 15, 10, 0, 2, 2);
save('udp', 'tftp-rrq', concat([addrs, udpTo(GUEST, GW, 1024, 69, rrq)]));
save('udp', 'no-checksum', concat([addrs, Uint8Array.of(4, 0, 0, 69, 0, 12, 0, 0, 1, 2, 3, 4)]));
save('dhcp', 'discover', discover);
save('dhcp', 'request', request);
save('tftp', 'rrq-options', rrq);
save('tftp', 'ack', buildAck(1));
save('tftp', 'error', Uint8Array.of(0, 5, 0, 1, 0x6e, 0x6f, 0));

// The gateway: a client's boot, frame after frame, each behind its 2-byte length.
const frames = [
  buildEthernet(BROADCAST_MAC, MAC, ETHERTYPE_ARP, arp),
  ipFrame(BROADCAST_MAC, 0, IP_BROADCAST, PROTO_UDP, udpTo(0, IP_BROADCAST, 68, 67, discover)),
  ipFrame(BROADCAST_MAC, 0, IP_BROADCAST, PROTO_UDP, udpTo(0, IP_BROADCAST, 68, 67, request)),
  ipFrame(GW_MAC, GUEST, GW, PROTO_ICMP, ping),
  ipFrame(GW_MAC, GUEST, GW, PROTO_UDP, udpTo(GUEST, GW, 1024, 69, rrq)),
  ipFrame(GW_MAC, GUEST, GW, PROTO_UDP, udpTo(GUEST, GW, 1024, 49152, buildAck(0))),
  ipFrame(GW_MAC, GUEST, GW, PROTO_UDP, udpTo(GUEST, GW, 1024, 53, Uint8Array.of(1, 2, 3))),
];
save('ethernet', 'boot-sequence', concat(frames.map((f) => concat([Uint8Array.of(f.length >>> 8, f.length & 0xff), f]))));

// virtqueue: size 16, EVENT_IDX and INDIRECT, then RAM: descriptor table at +0, avail at +0x1000.
function queueImage(descs: [number, number, number, number][], heads: number[], extra: [number, Uint8Array][] = []): Uint8Array {
  const ram = new Uint8Array(0x1000 + 4 + 2 * 16 + 2);
  const dv = new DataView(ram.buffer);
  descs.forEach(([addr, len, flags, next], i) => {
    dv.setUint32(i * 16, addr, true);
    dv.setUint32(i * 16 + 8, len, true);
    dv.setUint16(i * 16 + 12, flags, true);
    dv.setUint16(i * 16 + 14, next, true);
  });
  dv.setUint16(0x1002, heads.length, true);
  heads.forEach((h, i) => dv.setUint16(0x1004 + 2 * i, h, true));
  const out = concat([Uint8Array.of(4, 3), ram]);
  for (const [at, bytes] of extra) out.set(bytes, 2 + at);
  return out;
}
save(
  'virtqueue',
  'two-chains',
  queueImage(
    [
      [0x8000_3000, 16, 1, 1],
      [0x8000_3100, 64, 2, 0],
      [0x8000_3200, 512, 2, 0],
    ],
    [0, 2],
  ),
);
const indirect = new Uint8Array(32);
const idv = new DataView(indirect.buffer);
idv.setUint32(0, 0x8000_3000, true);
idv.setUint32(8, 16, true);
idv.setUint16(12, 1, true);
idv.setUint16(14, 1, true);
idv.setUint32(16, 0x8000_3100, true);
idv.setUint32(24, 64, true);
idv.setUint16(28, 2, true);
const withIndirect = queueImage([[0x8000_0800, 32, 4, 0]], [0]);
withIndirect.set(indirect, 2 + 0x800);
save('virtqueue', 'indirect', withIndirect);

// virtio-mmio: a driver's bring-up of queue 0 of virtio-rng, one request, the interrupt acked.
const ops: number[] = [];
const w32 = (reg: number, v: number) => ops.push(0, reg / 4, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
const r32 = (reg: number) => ops.push(1, reg / 4);
const mem = (off: number, bytes: number[]) => ops.push(2, off & 0xff, off >>> 8, bytes.length, ...bytes);
r32(0x000);
r32(0x008);
w32(0x070, 1);
w32(0x070, 3);
w32(0x014, 1);
r32(0x010);
w32(0x024, 1);
w32(0x020, 1); // VIRTIO_F_VERSION_1 (bit 32)
w32(0x070, 11);
r32(0x070);
w32(0x030, 0);
r32(0x034);
w32(0x038, 16);
w32(0x080, 0x8000_0000);
w32(0x090, 0x8000_1000);
w32(0x0a0, 0x8000_2000);
w32(0x044, 1);
w32(0x070, 15);
mem(0x0000, [0x00, 0x30, 0x00, 0x80, 0, 0, 0, 0, 64, 0, 0, 0, 2, 0, 0, 0]);
mem(0x1000, [0, 0, 1, 0, 0, 0]);
w32(0x050, 0);
ops.push(3);
r32(0x060);
w32(0x064, 1);
save('virtio-mmio', 'rng-request', Uint8Array.from(ops));
console.log(`seeds written under ${CORPUS}`);
