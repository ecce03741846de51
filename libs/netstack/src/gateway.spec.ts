import { describe, expect, it } from 'vitest';
import { ARP_REPLY, parseArp } from './arp.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, buildEthernet, macToString, parseEthernet } from './ethernet.js';
import { Gateway, slirpMac } from './gateway.js';
import { ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, buildIcmp, parseIcmp } from './icmp.js';
import { PROTO_ICMP, PROTO_TCP, buildIpv4, parseIpv4 } from './ipv4.js';
import { DNS, GUEST_MAC, GW, arpRequest, harness, udpFrame } from './testing/guest.test-util.js';

const GUEST = 0x0a00020f;

function ipFrame(dst: number, protocol: number, payload: Uint8Array, dstMac = slirpMac(GW)): Uint8Array {
  return buildEthernet(dstMac, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4({ src: GUEST, dst, protocol }, payload));
}

function icmpOut(frame: Uint8Array) {
  const eth = parseEthernet(frame);
  if (!eth.ok) throw new Error(eth.detail);
  const ip = parseIpv4(eth.value.payload);
  if (!ip.ok) throw new Error(ip.detail);
  expect(ip.value.protocol).toBe(PROTO_ICMP);
  const icmp = parseIcmp(ip.value.payload); // verifies the checksum
  if (!icmp.ok) throw new Error(icmp.detail);
  return { eth: eth.value, ip: ip.value, icmp: icmp.value };
}

describe('Gateway: ARP', () => {
  it("answers for the gateway and DNS addresses with slirp's MACs", () => {
    const h = harness();
    h.gw.receive(arpRequest(GW));
    h.gw.receive(arpRequest(DNS));
    const out = h.take();
    expect(out).toHaveLength(2);
    const macs = out.map((f) => {
      expect(f.length).toBe(60);
      const eth = parseEthernet(f);
      if (!eth.ok) throw new Error(eth.detail);
      expect(eth.value.etherType).toBe(ETHERTYPE_ARP);
      expect(eth.value.dst).toEqual(GUEST_MAC);
      const arp = parseArp(eth.value.payload);
      if (!arp.ok) throw new Error(arp.detail);
      expect(arp.value.operation).toBe(ARP_REPLY);
      expect(arp.value.targetIp).toBe(GUEST);
      expect(arp.value.targetMac).toEqual(GUEST_MAC);
      return `${macToString(arp.value.senderMac)} ${arp.value.senderIp.toString(16)}`;
    });
    expect(macs).toEqual(['52:55:0a:00:02:02 a000202', '52:55:0a:00:02:03 a000203']);
    expect(h.gw.stats.arpReplies).toBe(2);
  });

  it("ignores, counting, requests for other addresses (a DHCP client's probe of its own)", () => {
    const h = harness();
    h.gw.receive(arpRequest(GUEST, 0));
    expect(h.out).toHaveLength(0);
    expect(h.gw.stats.dropped).toEqual({ 'arp.notForUs': 1 });
  });

  it('follows another network and gateway address', () => {
    const h = harness({ net: '192.168.7.0/24', gatewayIp: '192.168.7.1' });
    h.gw.receive(arpRequest(0xc0a80701, 0xc0a80720));
    expect(h.take()).toHaveLength(1);
    expect(() => new Gateway({ net: '10.0.2.0/24', gatewayIp: '10.0.3.2', send: () => undefined })).toThrow(/gatewayIp=10.0.3.2/);
  });
});

describe('Gateway: ICMP', () => {
  it('answers an echo request to the gateway with the same id, sequence and data', () => {
    const h = harness();
    const req = buildIcmp(8, 0, Uint8Array.of(0x12, 0x34, 0x00, 0x01), Uint8Array.of(0x61, 0x62));
    h.gw.receive(ipFrame(GW, PROTO_ICMP, req));
    const [f] = h.take();
    const r = icmpOut(f!);
    expect(r.icmp.type).toBe(ICMP_ECHO_REPLY);
    expect(Array.from(r.icmp.rest)).toEqual([0x12, 0x34, 0x00, 0x01]);
    expect(Array.from(r.icmp.data)).toEqual([0x61, 0x62]);
    expect((r.ip.payload[2]! << 8) | r.ip.payload[3]!).toBe(0x8c68); // hand-computed in checksum.spec
    expect(r.ip.src).toBe(GW);
    expect(r.ip.dst).toBe(GUEST);
    expect(r.ip.ttl).toBe(255); // slirp's icmp_reflect: what a guest's ping shows on QEMU
    expect(r.eth.dst).toEqual(GUEST_MAC);
    expect(h.gw.stats.icmpEchoReplies).toBe(1);
  });

  it('answers an echo request to the DNS address from the DNS address and MAC', () => {
    const h = harness();
    h.gw.receive(ipFrame(DNS, PROTO_ICMP, buildIcmp(8, 0, Uint8Array.of(0, 1, 0, 2), new Uint8Array(0)), slirpMac(DNS)));
    const r = icmpOut(h.take()[0]!);
    expect(r.icmp.type).toBe(ICMP_ECHO_REPLY);
    expect(r.ip.src).toBe(DNS);
    expect(macToString(r.eth.src)).toBe('52:55:0a:00:02:03');
  });

  it('answers DNS queries with ICMP port unreachable from 10.0.2.3 (no resolver behind it)', () => {
    const h = harness();
    const query = Uint8Array.of(0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0);
    h.gw.receive(udpFrame({ dstMac: slirpMac(DNS), src: GUEST, dst: DNS, srcPort: 5353, dstPort: 53, payload: query }));
    const r = icmpOut(h.take()[0]!);
    expect(r.icmp.type).toBe(ICMP_DEST_UNREACHABLE);
    expect(r.icmp.code).toBe(3);
    expect(r.ip.src).toBe(DNS);
    expect(macToString(r.eth.src)).toBe('52:55:0a:00:02:03');
    // Quotes the original IP header and the first 8 bytes (the UDP header).
    expect(r.icmp.data.length).toBe(28);
    expect((r.icmp.data[20 + 2]! << 8) | r.icmp.data[20 + 3]!).toBe(53);
    expect(h.gw.stats.dropped).toEqual({ 'udp.port': 1 });
    expect(h.gw.stats.icmpUnreachables).toBe(1);
  });

  it('answers TCP with protocol unreachable, and never answers an ICMP error or a broadcast', () => {
    const h = harness();
    h.gw.receive(ipFrame(GW, PROTO_TCP, new Uint8Array(20)));
    expect(icmpOut(h.take()[0]!).icmp.code).toBe(2);
    h.gw.receive(ipFrame(GW, PROTO_ICMP, buildIcmp(3, 3, new Uint8Array(4), new Uint8Array(28))));
    h.gw.receive(ipFrame(0xffffffff, PROTO_ICMP, buildIcmp(8, 0, new Uint8Array(4), new Uint8Array(0))));
    h.gw.receive(udpFrame({ src: GUEST, dst: 0xffffffff, srcPort: 1, dstPort: 9, payload: new Uint8Array(1) }));
    expect(h.out).toHaveLength(0);
    expect(h.gw.stats.dropped).toEqual({ 'ipv4.protocol': 1, 'icmp.type': 1, 'icmp.broadcast': 1, 'udp.broadcast': 1 });
  });
});

describe('Gateway: refused input', () => {
  it('counts frames for other hosts, other EtherTypes, fragments and bad checksums', () => {
    const h = harness();
    const ping = buildIcmp(8, 0, new Uint8Array(4), new Uint8Array(8));
    h.gw.receive(ipFrame(0x0a000209, PROTO_ICMP, ping, Uint8Array.of(0x52, 0x54, 0, 0, 0, 9))); // not our MAC
    h.gw.receive(ipFrame(0x08080808, PROTO_ICMP, ping)); // our MAC, but we route nowhere
    h.gw.receive(buildEthernet(slirpMac(GW), GUEST_MAC, 0x86dd, new Uint8Array(40)));
    const frag = ipFrame(GW, PROTO_ICMP, ping);
    frag[14 + 6] = 0x20; // MF; the header checksum then fails first, so fix it up
    frag[14 + 10] = frag[14 + 11] = 0;
    let s = 0;
    for (let i = 14; i < 34; i += 2) s += (frag[i]! << 8) | frag[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    frag[14 + 10] = (~s >>> 8) & 0xff;
    frag[14 + 11] = ~s & 0xff;
    h.gw.receive(frag);
    const bad = ipFrame(GW, PROTO_ICMP, ping);
    bad[14 + 8] = 1; // TTL changed, checksum not updated
    h.gw.receive(bad);
    const badUdp = udpFrame({ dstMac: slirpMac(GW), src: GUEST, dst: GW, srcPort: 1, dstPort: 69, payload: Uint8Array.of(1, 2) });
    badUdp[14 + 20 + 8 + 1] ^= 1;
    h.gw.receive(badUdp.subarray(0, 14 + 20 + 8 + 2));
    expect(h.out).toHaveLength(0);
    expect(h.gw.stats.dropped).toEqual({
      'ethernet.notForUs': 1,
      'ipv4.notForUs': 1,
      'ethernet.etherType': 1,
      'ipv4.fragment': 1,
      'ipv4.checksum': 1,
      'udp.checksum': 1,
    });
    expect(h.gw.stats.framesIn).toBe(6);
  });

  it('never throws on truncated or corrupted frames, whatever the byte', () => {
    const h = harness({ tftpRoot: '/nonexistent' });
    const samples = [
      arpRequest(GW),
      ipFrame(GW, PROTO_ICMP, buildIcmp(8, 0, new Uint8Array(4), new Uint8Array(16))),
      udpFrame({ dstMac: slirpMac(GW), src: GUEST, dst: GW, srcPort: 3000, dstPort: 69, payload: new TextEncoder().encode('\0\x01Image\0octet\0') }),
      udpFrame({ src: 0, dst: 0xffffffff, srcPort: 68, dstPort: 67, payload: new Uint8Array(300) }),
    ];
    let x = 7;
    const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 16;
    for (const f of samples) {
      for (let len = 0; len <= f.length; len++) h.gw.receive(f.subarray(0, len));
      for (let i = 0; i < 300; i++) {
        const g = f.slice();
        g[rnd() % g.length] = rnd() & 0xff;
        g[rnd() % g.length] = rnd() & 0xff;
        h.gw.receive(g);
      }
    }
    h.gw.receive(new Uint8Array(2000));
    expect(h.gw.stats.errors).toBe(0);
    expect(h.gw.stats.dropped['ethernet.truncated']).toBe(4 * 14);
    expect(h.gw.stats.dropped['ethernet.oversized']).toBe(1);
  });

  it('counts, and survives, a send() that throws', () => {
    const gw = new Gateway({
      send: () => {
        throw new Error('port gone');
      },
    });
    expect(() => gw.receive(arpRequest(GW))).not.toThrow();
    expect(gw.stats.errors).toBe(1);
  });
});
