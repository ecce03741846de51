import { describe, expect, it } from 'vitest';
import { internetChecksum, onesSum, pseudoHeaderSum } from './checksum.js';
import { buildEchoReply, parseIcmp, buildIcmp } from './icmp.js';
import { buildIpv4, PROTO_UDP } from './ipv4.js';
import { buildUdp } from './udp.js';

describe('internet checksum (RFC 1071)', () => {
  it('sums the RFC 1071 §3 example words to 0xddf2, checksum 0x220d', () => {
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(onesSum(b)).toBe(0xddf2);
    expect(internetChecksum(b)).toBe(0x220d);
  });

  it('pads an odd last byte with zero', () => {
    // 0x0102 + 0x0300 = 0x0402 -> ~ = 0xfbfd
    expect(internetChecksum(Uint8Array.of(1, 2, 3))).toBe(0xfbfd);
  });

  it('gives the well-known 0xb861 for 192.168.0.1 -> 192.168.0.199, UDP, 115 bytes, DF', () => {
    const ip = buildIpv4({ src: 0xc0a80001, dst: 0xc0a800c7, protocol: PROTO_UDP, ttl: 64, id: 0 }, new Uint8Array(115 - 20));
    expect((ip[10]! << 8) | ip[11]!).toBe(0xb861);
    expect(internetChecksum(ip, 0, 20)).toBe(0); // a correct header sums to all ones
  });

  it('computes the UDP checksum over the pseudo-header: 10.0.2.2:69 -> 10.0.2.15:1234 "hi" = 0x7a49', () => {
    // pseudo 0a00+0202+0a00+020f+0011+000a = 0x182c; header+data 0045+04d2+000a+6869 = 0x6d8a;
    // 0x182c + 0x6d8a = 0x85b6, complemented 0x7a49.
    expect(pseudoHeaderSum(0x0a000202, 0x0a00020f, PROTO_UDP, 10)).toBe(0x182c);
    const udp = buildUdp(0x0a000202, 0x0a00020f, 69, 1234, Uint8Array.of(0x68, 0x69));
    expect((udp[6]! << 8) | udp[7]!).toBe(0x7a49);
  });

  it('computes the ICMP echo reply checksum: id 0x1234 seq 1 "ab" = 0x8c68', () => {
    // 0000 + 1234 + 0001 + 6162 = 0x7397, complemented 0x8c68.
    const req = buildIcmp(8, 0, Uint8Array.of(0x12, 0x34, 0x00, 0x01), Uint8Array.of(0x61, 0x62));
    const parsed = parseIcmp(req);
    if (!parsed.ok) throw new Error(parsed.detail);
    const reply = buildEchoReply(parsed.value);
    expect((reply[2]! << 8) | reply[3]!).toBe(0x8c68);
  });
});
