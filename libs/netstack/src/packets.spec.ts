import { describe, expect, it } from 'vitest';
import { ARP_REQUEST, buildArp, parseArp } from './arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, buildEthernet, macToString, parseEthernet, parseMac } from './ethernet.js';
import { buildIcmp, parseIcmp } from './icmp.js';
import { PROTO_ICMP, buildIpv4, ipToString, parseCidr, parseIp, parseIpv4 } from './ipv4.js';
import { buildUdp, parseUdp } from './udp.js';

const A = 0x0a00020f;
const B = 0x0a000202;

function reason<T>(r: { ok: true; value: T } | { ok: false; reason: string; detail: string }): string {
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('ethernet', () => {
  it('round-trips a frame and pads it to 60 bytes', () => {
    const f = buildEthernet(BROADCAST_MAC, parseMac('52:54:00:12:34:56'), ETHERTYPE_ARP, Uint8Array.of(1, 2, 3));
    expect(f.length).toBe(60);
    const p = parseEthernet(f);
    if (!p.ok) throw new Error(p.detail);
    expect(macToString(p.value.src)).toBe('52:54:00:12:34:56');
    expect(p.value.etherType).toBe(ETHERTYPE_ARP);
    expect(Array.from(p.value.payload.subarray(0, 3))).toEqual([1, 2, 3]);
  });

  it('refuses truncated, oversized and 802.3-length frames', () => {
    expect(reason(parseEthernet(new Uint8Array(13)))).toBe('ethernet.truncated');
    expect(reason(parseEthernet(new Uint8Array(1515)))).toBe('ethernet.oversized');
    const f = new Uint8Array(60);
    f[12] = 0x05; // 0x0500: a length field
    const r = parseEthernet(f);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toContain('etherType=0x0500');
  });

  it('parses MAC text strictly', () => {
    expect(() => parseMac('52:54:00:12:34')).toThrow(/six colon-separated/);
    expect(() => parseMac('52:54:00:12:34:zz')).toThrow();
  });
});

describe('arp', () => {
  it('round-trips a request', () => {
    const b = buildArp({ operation: ARP_REQUEST, senderMac: parseMac('52:54:00:00:00:01'), senderIp: A, targetMac: new Uint8Array(6), targetIp: B });
    expect(Array.from(b.subarray(0, 8))).toEqual([0, 1, 8, 0, 6, 4, 0, 1]);
    const p = parseArp(b);
    if (!p.ok) throw new Error(p.detail);
    expect(ipToString(p.value.targetIp)).toBe('10.0.2.2');
    expect(ipToString(p.value.senderIp)).toBe('10.0.2.15');
  });

  it('refuses short packets and non-Ethernet/IPv4 kinds', () => {
    expect(reason(parseArp(new Uint8Array(27)))).toBe('arp.truncated');
    const b = buildArp({ operation: 1, senderMac: new Uint8Array(6), senderIp: A, targetMac: new Uint8Array(6), targetIp: B });
    b[1] = 6;
    expect(reason(parseArp(b))).toBe('arp.htype');
    b[1] = 1;
    b[5] = 16;
    expect(reason(parseArp(b))).toBe('arp.lengths');
    b[5] = 4;
    b[7] = 3;
    expect(reason(parseArp(b))).toBe('arp.operation');
  });
});

describe('ipv4', () => {
  const packet = () => buildIpv4({ src: A, dst: B, protocol: PROTO_ICMP }, Uint8Array.of(9, 9, 9, 9));

  it('round-trips, ignoring Ethernet padding after totalLength', () => {
    const padded = new Uint8Array(46);
    padded.set(packet());
    const p = parseIpv4(padded);
    if (!p.ok) throw new Error(p.detail);
    expect(p.value.payload.length).toBe(4);
    expect(p.value.src).toBe(A);
  });

  it('refuses a bad checksum, naming the field and value', () => {
    const b = packet();
    b[11] ^= 0xff;
    const p = parseIpv4(b);
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.reason).toBe('ipv4.checksum');
      expect(p.detail).toMatch(/checksum=0x[0-9a-f]{4}/);
    }
  });

  it('refuses bad version, ihl and totalLength', () => {
    const withHeader = (i: number, v: number) => {
      const b = packet();
      b[i] = v;
      return b;
    };
    expect(reason(parseIpv4(withHeader(0, 0x65)))).toBe('ipv4.version');
    expect(reason(parseIpv4(withHeader(0, 0x44)))).toBe('ipv4.ihl');
    expect(reason(parseIpv4(withHeader(3, 200)))).toBe('ipv4.totalLength');
    expect(reason(parseIpv4(new Uint8Array(19)))).toBe('ipv4.truncated');
  });

  it('drops fragments: MF set or a non-zero offset', () => {
    const frag = (hi: number, lo: number) => {
      const b = packet();
      b[6] = hi;
      b[7] = lo;
      b[10] = b[11] = 0;
      const view = new DataView(b.buffer);
      let s = 0;
      for (let i = 0; i < 20; i += 2) s += view.getUint16(i);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      view.setUint16(10, ~s & 0xffff);
      return b;
    };
    expect(reason(parseIpv4(frag(0x20, 0)))).toBe('ipv4.fragment');
    expect(reason(parseIpv4(frag(0x00, 0x10)))).toBe('ipv4.fragment');
  });

  it('parses dotted quads and CIDR', () => {
    expect(parseIp('10.0.2.15')).toBe(0x0a00020f);
    expect(() => parseIp('10.0.2.256')).toThrow(/dotted-quad/);
    expect(parseCidr('10.0.2.7/24')).toEqual({ network: 0x0a000200, mask: 0xffffff00, prefix: 24 });
    expect(() => parseCidr('10.0.2.0/31')).toThrow(/prefix/);
  });
});

describe('icmp and udp', () => {
  it('refuses a truncated or mis-summed ICMP message', () => {
    expect(reason(parseIcmp(new Uint8Array(7)))).toBe('icmp.truncated');
    const m = buildIcmp(8, 0, new Uint8Array(4), Uint8Array.of(1));
    m[8] = 2;
    expect(reason(parseIcmp(m))).toBe('icmp.checksum');
  });

  it('accepts a zero UDP checksum and verifies any other', () => {
    const u = buildUdp(A, B, 68, 67, Uint8Array.of(1, 2, 3));
    expect(parseUdp(A, B, u).ok).toBe(true);
    expect(reason(parseUdp(A, 0x0a000203, u))).toBe('udp.checksum'); // wrong pseudo-header
    u[6] = u[7] = 0;
    u[8] = 0x55; // payload changed, but "no checksum" is allowed
    expect(parseUdp(A, B, u).ok).toBe(true);
  });

  it('refuses UDP lengths shorter than the header or longer than the data', () => {
    const u = buildUdp(A, B, 68, 67, Uint8Array.of(1, 2, 3));
    u[5] = 7;
    expect(reason(parseUdp(A, B, u))).toBe('udp.length');
    u[5] = 12;
    expect(reason(parseUdp(A, B, u))).toBe('udp.length');
    expect(reason(parseUdp(A, B, u.subarray(0, 5)))).toBe('udp.truncated');
  });
});
