// The network stack a guest reaches by sending frames: each parser alone (they return
// Parsed and never throw: any exception is a crash), and the gateway whole, where the
// frame goes through Ethernet, ARP, IPv4, ICMP, UDP, DHCP and TFTP as on the switch.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Gateway,
  buildEchoReply,
  messageType,
  optionIp,
  parseArp,
  parseDhcp,
  parseEthernet,
  parseIcmp,
  parseIpv4,
  parseTftp,
  parseUdp,
  type NetLog,
  type Parsed,
} from '@splitvisor/netstack';
import type { FuzzTarget } from '../engine/target.js';

/** A parser's answer must be one of its two shapes; anything else is a bug. */
function checked<T>(p: Parsed<T>, what: string): T | undefined {
  if (p.ok) return p.value;
  if (typeof p.reason !== 'string' || !p.reason.startsWith(what) || typeof p.detail !== 'string') {
    throw new Error(`${what}: a refusal without its reason code or detail: ${JSON.stringify(p)}`);
  }
  return undefined;
}

const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

export const arp: FuzzTarget = {
  name: 'arp',
  about: 'an ARP packet (RFC 826), as after the Ethernet header',
  maxLen: 64,
  run(data) {
    checked(parseArp(data), 'arp');
  },
};

export const ipv4: FuzzTarget = {
  name: 'ipv4',
  about: 'an IPv4 datagram (RFC 791), header checksum and all',
  maxLen: 1500,
  run(data) {
    checked(parseIpv4(data), 'ipv4');
  },
};

export const udp: FuzzTarget = {
  name: 'udp',
  about: 'source and destination IPv4 addresses (8 bytes), then a UDP datagram (RFC 768)',
  maxLen: 1500,
  run(data) {
    if (data.length < 8) return;
    checked(parseUdp(u32(data, 0), u32(data, 4), data.subarray(8)), 'udp');
  },
};

export const icmp: FuzzTarget = {
  name: 'icmp',
  about: 'an ICMP message (RFC 792); an echo request is answered and the answer parsed back',
  maxLen: 1500,
  run(data) {
    const m = checked(parseIcmp(data), 'icmp');
    if (m && m.type === 8 && !parseIcmp(buildEchoReply(m)).ok) throw new Error('icmp: our own echo reply does not parse');
  },
};

export const dhcp: FuzzTarget = {
  name: 'dhcp',
  about: 'a BOOTP/DHCP message (RFC 2131, options RFC 2132)',
  maxLen: 1024,
  dictionary: [
    Uint8Array.of(0x63, 0x82, 0x53, 0x63),
    Uint8Array.of(53, 1, 1),
    Uint8Array.of(53, 1, 3),
    Uint8Array.of(50, 4),
    Uint8Array.of(52, 1, 3),
    Uint8Array.of(255),
  ],
  run(data) {
    const m = checked(parseDhcp(data), 'dhcp');
    if (!m) return;
    messageType(m);
    optionIp(m, 50);
    optionIp(m, 54);
  },
};

export const tftp: FuzzTarget = {
  name: 'tftp',
  about: 'a TFTP packet (RFC 1350, options RFC 2347-2349, 7440)',
  maxLen: 1024,
  dictionary: ['\0octet\0', '\0netascii\0', 'blksize\0', 'tsize\0', 'timeout\0', 'windowsize\0', '1468\0', '0\0'],
  run(data) {
    checked(parseTftp(data), 'tftp');
  },
};

/** A directory with one small file, so TFTP read requests have something to find. */
let tftpRoot: string | undefined;
function root(): string {
  if (!tftpRoot) {
    tftpRoot = mkdtempSync(join(tmpdir(), 'splitvisor-fuzz-tftp-'));
    writeFileSync(
      join(tftpRoot, 'boot.bin'),
      new Uint8Array(3000).map((_, i) => i & 0xff),
    );
  }
  return tftpRoot;
}

/**
 * Frames as the switch delivers them, several per input (a 2-byte length before each), to
 * a fresh gateway serving DHCP and TFTP. The gateway catches what its handlers throw and
 * counts it: such an error is a bug, so it is rethrown here as a crash.
 */
export const ethernet: FuzzTarget = {
  name: 'ethernet',
  about: 'Ethernet frames (each after a 2-byte big-endian length) into the gateway: ARP, IPv4, ICMP, UDP, DHCP, TFTP',
  maxLen: 4096,
  dictionary: [
    Uint8Array.of(0x08, 0x00),
    Uint8Array.of(0x08, 0x06),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
    Uint8Array.of(0x52, 0x55, 10, 0, 2, 2),
    Uint8Array.of(10, 0, 2, 2),
    Uint8Array.of(10, 0, 2, 15),
    Uint8Array.of(0x45, 0x00),
    Uint8Array.of(0, 67),
    Uint8Array.of(0, 68),
    Uint8Array.of(0, 69),
    Uint8Array.of(0x63, 0x82, 0x53, 0x63),
    'boot.bin\0octet\0',
    'blksize\0',
  ],
  async run(data) {
    const errors: unknown[] = [];
    const log: NetLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (o) => errors.push((o as { err?: unknown }).err) };
    const gw = new Gateway({ tftpRoot: root(), bootFile: 'boot.bin', send: (f) => checked(parseEthernet(f), 'ethernet'), log });
    try {
      for (let at = 0; at + 2 <= data.length;) {
        const len = (data[at]! << 8) | data[at + 1]!;
        gw.receive(data.subarray(at + 2, at + 2 + len));
        at += 2 + len;
      }
      await gw.settled();
    } finally {
      gw.close();
    }
    if (errors.length > 0) throw errors[0];
    if (gw.stats.errors > 0) throw new Error(`gateway: ${gw.stats.errors} error(s) inside receive()`);
  },
};
