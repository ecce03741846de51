import { describe, expect, it } from 'vitest';
import {
  BOOTP_MAX_LEN,
  DHCPACK,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPREQUEST,
  MAGIC_COOKIE,
  OPT_BOOTFILE_NAME,
  OPT_DNS,
  OPT_LEASE_TIME,
  OPT_MESSAGE_TYPE,
  OPT_REQUESTED_IP,
  OPT_ROUTER,
  OPT_SERVER_ID,
  OPT_SUBNET_MASK,
  messageType,
  optionIp,
  parseDhcp,
  type DhcpMessage,
} from './dhcp.js';
import { BROADCAST_MAC, macToString, type Mac } from './ethernet.js';
import { IP_BROADCAST, ipToString } from './ipv4.js';
import { GUEST_MAC, decodeUdp, harness, udpFrame } from './testing/guest.test-util.js';

/** The options U-Boot 2023.01 dhcp_extended() writes (net/bootp.c), then END, no padding. */
function ubootDhcp(type: number, mac: Mac, xid: number, serverId = 0, requested = 0): Uint8Array {
  const ext: number[] = [0x63, 0x82, 0x53, 0x63, 53, 1, type, 57, 2, 0x02, 0x40];
  const ip = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  if (serverId) ext.push(54, 4, ...ip(serverId));
  if (requested) ext.push(50, 4, ...ip(requested));
  ext.push(94, 3, 1, 0, 0); // client network interface identifier
  ext.push(55, 4, 1, 3, 6, 17); // subnet, router, DNS, root path
  ext.push(255);
  const b = new Uint8Array(236 + ext.length);
  b[0] = 1; // BOOTREQUEST
  b[1] = 1;
  b[2] = 6;
  new DataView(b.buffer).setUint32(4, xid);
  b.set(mac, 28);
  b.set(ext, 236);
  return b;
}

function sendDhcp(h: ReturnType<typeof harness>, payload: Uint8Array, mac: Mac = GUEST_MAC) {
  // U-Boot: from 0.0.0.0:68 to 255.255.255.255:67, broadcast MAC, UDP checksum 0.
  h.gw.receive(udpFrame({ srcMac: mac, src: 0, dst: IP_BROADCAST, srcPort: 68, dstPort: 67, payload, zeroChecksum: true }));
  const out = h.take();
  expect(out).toHaveLength(1);
  const d = decodeUdp(out[0]!);
  expect(d.udp.srcPort).toBe(67);
  expect(d.udp.dstPort).toBe(68);
  expect(d.udp.payload.length).toBeLessThanOrEqual(BOOTP_MAX_LEN); // U-Boot's check_reply_packet limit
  const m = parseDhcp(d.udp.payload);
  if (!m.ok) throw new Error(m.detail);
  return { frame: d, msg: m.value };
}

/** U-Boot's dhcp_process_options() prints "Unhandled DHCP Option" for anything else. */
const UBOOT_KNOWN = new Set([1, 3, 6, 12, 15, 17, 28, 51, 52, 53, 54, 58, 59, 66, 67]);

function checkOptionsUbootUnderstands(m: DhcpMessage) {
  for (const code of m.options.keys()) expect(UBOOT_KNOWN.has(code), `option ${code}`).toBe(true);
}

describe('DHCP as U-Boot 2023.01 runs it', () => {
  it('binds: DISCOVER -> OFFER of 10.0.2.15, REQUEST (server id, requested ip) -> ACK', () => {
    const h = harness({ tftpRoot: '/nonexistent', bootFile: 'Image' });
    const offer = sendDhcp(h, ubootDhcp(DHCPDISCOVER, GUEST_MAC, 0x11223344));
    expect(messageType(offer.msg)).toBe(DHCPOFFER);
    expect(offer.msg.xid).toBe(0x11223344);
    expect(offer.msg.op).toBe(2);
    expect(ipToString(offer.msg.yiaddr)).toBe('10.0.2.15');
    expect(ipToString(offer.msg.siaddr)).toBe('10.0.2.2'); // next-server, U-Boot's serverip
    expect(offer.msg.file).toBe('Image');
    expect(macToString(offer.msg.chaddr)).toBe(macToString(GUEST_MAC));
    expect(new DataView(offer.frame.udp.payload.buffer, offer.frame.udp.payload.byteOffset).getUint32(236)).toBe(MAGIC_COOKIE);
    // To the client's MAC at the IP broadcast (no broadcast flag), from the gateway.
    expect(macToString(offer.frame.dstMac)).toBe(macToString(GUEST_MAC));
    expect(macToString(offer.frame.srcMac)).toBe('52:55:0a:00:02:02');
    expect(offer.frame.ip.dst).toBe(IP_BROADCAST);
    expect(ipToString(offer.frame.ip.src)).toBe('10.0.2.2');
    checkOptionsUbootUnderstands(offer.msg);

    const serverId = optionIp(offer.msg, OPT_SERVER_ID)!;
    expect(ipToString(serverId)).toBe('10.0.2.2');
    const ack = sendDhcp(h, ubootDhcp(DHCPREQUEST, GUEST_MAC, 0x11223344, serverId, offer.msg.yiaddr));
    expect(messageType(ack.msg)).toBe(DHCPACK);
    expect(ipToString(ack.msg.yiaddr)).toBe('10.0.2.15');
    expect(ipToString(optionIp(ack.msg, OPT_SUBNET_MASK)!)).toBe('255.255.255.0');
    expect(ipToString(optionIp(ack.msg, OPT_ROUTER)!)).toBe('10.0.2.2');
    expect(ipToString(optionIp(ack.msg, OPT_DNS)!)).toBe('10.0.2.3');
    expect(optionIp(ack.msg, OPT_LEASE_TIME)).toBe(86400);
    expect(new TextDecoder().decode(ack.msg.options.get(OPT_BOOTFILE_NAME))).toBe('Image');
    expect(ack.msg.options.get(OPT_MESSAGE_TYPE)).toEqual(Uint8Array.of(DHCPACK));
    checkOptionsUbootUnderstands(ack.msg);

    const s = h.gw.stats;
    expect([s.dhcpOffers, s.dhcpAcks, s.dhcpNaks, s.dhcpLeases]).toEqual([1, 1, 0, 1]);
    expect(h.gw.leaseOf(GUEST_MAC)).toBe('10.0.2.15');
  });

  it('leaves bootfile and next-server out when none is configured', () => {
    const h = harness();
    const offer = sendDhcp(h, ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1));
    expect(offer.msg.siaddr).toBe(0);
    expect(offer.msg.file).toBe('');
    expect(offer.msg.options.has(OPT_BOOTFILE_NAME)).toBe(false);
  });

  it('keeps a lease per MAC: a second client gets .16, the first gets .15 again', () => {
    const h = harness();
    const other = Uint8Array.of(0x52, 0x54, 0, 0, 0, 2);
    expect(ipToString(sendDhcp(h, ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1)).msg.yiaddr)).toBe('10.0.2.15');
    expect(ipToString(sendDhcp(h, ubootDhcp(DHCPDISCOVER, other, 2), other).msg.yiaddr)).toBe('10.0.2.16');
    expect(ipToString(sendDhcp(h, ubootDhcp(DHCPDISCOVER, GUEST_MAC, 3)).msg.yiaddr)).toBe('10.0.2.15');
    expect(h.gw.stats.dhcpLeases).toBe(2);
  });

  it('honours dhcpStart', () => {
    const h = harness({ dhcpStart: '10.0.2.100' });
    expect(ipToString(sendDhcp(h, ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1)).msg.yiaddr)).toBe('10.0.2.100');
  });

  it("NAKs a request for an address that is not the client's (broadcast)", () => {
    const h = harness();
    sendDhcp(h, ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1));
    const nak = sendDhcp(h, ubootDhcp(DHCPREQUEST, GUEST_MAC, 1, 0x0a000202, 0xc0a80105));
    expect(messageType(nak.msg)).toBe(DHCPNAK);
    expect(nak.msg.yiaddr).toBe(0); // U-Boot ignores a reply without yiaddr
    expect(nak.frame.dstMac).toEqual(BROADCAST_MAC);
    const other = Uint8Array.of(0x52, 0x54, 0, 0, 0, 2);
    const stolen = sendDhcp(h, ubootDhcp(DHCPREQUEST, other, 2, 0, 0x0a00020f), other);
    expect(messageType(stolen.msg)).toBe(DHCPNAK);
    expect(h.gw.stats.dhcpNaks).toBe(2);
  });

  it('grants an INIT-REBOOT request for a free pool address (a guest that outlived the gateway)', () => {
    const h = harness();
    const ack = sendDhcp(h, ubootDhcp(DHCPREQUEST, GUEST_MAC, 9, 0, 0x0a000220));
    expect(messageType(ack.msg)).toBe(DHCPACK);
    expect(ipToString(ack.msg.yiaddr)).toBe('10.0.2.32');
  });

  it('stays silent, counting, for a REQUEST to another server, plain BOOTP, and malformed messages', () => {
    const h = harness();
    const send = (payload: Uint8Array) => h.gw.receive(udpFrame({ src: 0, dst: IP_BROADCAST, srcPort: 68, dstPort: 67, payload, zeroChecksum: true }));
    send(ubootDhcp(DHCPREQUEST, GUEST_MAC, 1, 0x0a000209, 0x0a00020f));
    const bootp = ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1);
    bootp.copyWithin(240, 243); // drop option 53
    send(bootp.subarray(0, bootp.length - 3));
    send(ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1).subarray(0, 200));
    const noEnd = ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1);
    send(noEnd.subarray(0, noEnd.length - 1));
    const badLen = ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1);
    badLen[241] = 200; // option 53's length runs off the end
    send(badLen);
    const cookie = ubootDhcp(DHCPDISCOVER, GUEST_MAC, 1);
    cookie[236] = 0;
    send(cookie);
    expect(h.take()).toHaveLength(0);
    expect(h.gw.stats.dropped).toEqual({
      'dhcp.otherServer': 1,
      'dhcp.bootp': 1,
      'dhcp.truncated': 1,
      'dhcp.option': 2,
      'dhcp.cookie': 1,
    });
    expect(h.gw.stats.errors).toBe(0);
  });

  it('reads requested-ip the way the server does', () => {
    const p = parseDhcp(ubootDhcp(DHCPREQUEST, GUEST_MAC, 1, 0x0a000202, 0x0a00020f));
    if (!p.ok) throw new Error(p.detail);
    expect(optionIp(p.value, OPT_REQUESTED_IP)).toBe(0x0a00020f);
  });
});
