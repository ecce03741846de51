// A guest that attacks the gateway with frames on the switch, as a guest driver can write
// them: TFTP session floods, duplicate-ACK storms, stolen endpoints, DHCP pool drains and
// forged DECLINEs. Each attack is refused, counted, and a well-behaved client goes on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DHCPDECLINE, DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, buildDhcp, messageType, parseDhcp, type DhcpMessage } from './dhcp.js';
import { macToString, type Mac } from './ethernet.js';
import { slirpMac } from './gateway.js';
import { IP_BROADCAST, ipToString } from './ipv4.js';
import { OP_DATA, OP_ERROR, OP_OACK, OP_RRQ, buildAck, buildRequest, parseTftp, type TftpPacket } from './tftp.js';
import { TftpServer, type TftpPeer } from './tftp-server.js';
import { GUEST_MAC, GW, decodeUdp, harness, udpFrame, type Harness } from './testing/guest.test-util.js';

const CLIENT = 0x0a00020f;
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'netstack-hostile-'));
  writeFileSync(join(root, 'Image'), new Uint8Array(64 * 1024).fill(7));
  writeFileSync(join(root, 'big'), new Uint8Array(8193));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

const mac = (n: number): Mac => Uint8Array.of(0x52, 0x54, 0x00, 0xee, (n >> 8) & 0xff, n & 0xff);

function tftpTo(h: Harness, dstPort: number, payload: Uint8Array, srcPort: number, srcMac: Mac = GUEST_MAC): void {
  h.gw.receive(udpFrame({ srcMac, dstMac: slirpMac(GW), src: CLIENT, dst: GW, srcPort, dstPort, payload }));
}

function tftpReplies(h: Harness): { port: number; dstPort: number; dstMac: string; p: TftpPacket }[] {
  return h.take().map((f) => {
    const d = decodeUdp(f);
    const p = parseTftp(d.udp.payload);
    if (!p.ok) throw new Error(p.detail);
    return { port: d.udp.srcPort, dstPort: d.udp.dstPort, dstMac: macToString(d.dstMac), p: p.value };
  });
}

const rrq = (
  name = 'Image',
  options = new Map([
    ['blksize', '1024'],
    ['windowsize', '8'],
  ]),
) => buildRequest(OP_RRQ, name, 'octet', options);

describe('TFTP against a hostile guest', () => {
  it('caps transfers per client: the ninth RRQ from new ports gets ERROR "too many transfers", and the server goes on', async () => {
    const h = harness({ tftpRoot: root });
    for (let i = 0; i < 9; i++) tftpTo(h, 69, rrq(), 5000 + i);
    await h.gw.settled();
    const rs = tftpReplies(h);
    expect(rs.filter((r) => r.p.op === OP_OACK)).toHaveLength(8);
    expect(rs.filter((r) => r.p.op === OP_ERROR).map((r) => [r.dstPort, (r.p as { message: string }).message])).toEqual([[5008, 'too many transfers']]);
    expect(h.gw.stats.tftp.activeSessions).toBe(8);
    expect(h.gw.stats.dropped['tftp.sessionLimit']).toBe(1);
    // Another client is still served.
    tftpTo(h, 69, rrq(), 6000, mac(1));
    await h.gw.settled();
    expect(tftpReplies(h).map((r) => r.p.op)).toEqual([OP_OACK]);
    // The client's sessions, once ended, make room again.
    h.gw.close();
    expect(h.gw.stats.tftp.activeSessions).toBe(0);
    tftpTo(h, 69, rrq(), 7000);
    await h.gw.settled();
    expect(tftpReplies(h).map((r) => r.p.op)).toEqual([OP_OACK]);
    h.gw.close();
  });

  it('refuses, never spins, once every session port is taken (16,384 live sessions)', async () => {
    const refused: string[] = [];
    const server = new TftpServer({ root, send: () => undefined, drop: (reason) => refused.push(reason), maxSessions: 1e6, maxSessionsPerClient: 1e6 });
    const peer = (port: number): TftpPeer => ({ ip: CLIENT, port, mac: GUEST_MAC });
    const ports = 65536 - 49152;
    for (let i = 0; i < ports; i++) await server.handle(peer(i), 69, rrq());
    expect(server.stats.activeSessions).toBe(ports);
    expect(refused).toEqual([]);
    await server.handle(peer(ports), 69, rrq());
    expect(refused).toEqual(['tftp.sessionLimit']);
    // However many sessions read it, the file is held once.
    expect(server.stats.filesHeld).toBe(1);
    server.closeAll();
    expect(server.stats.filesHeld).toBe(0);
  }, 60_000);

  it('resends a window at most once per timeout however many duplicate ACKs arrive', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness({ tftpRoot: root });
    tftpTo(
      h,
      69,
      rrq(
        'Image',
        new Map([
          ['blksize', '1024'],
          ['windowsize', '8'],
          ['timeout', '3'],
        ]),
      ),
      5000,
    );
    await h.gw.settled();
    const [oack] = tftpReplies(h);
    tftpTo(h, oack!.port, buildAck(0), 5000);
    expect(tftpReplies(h)).toHaveLength(8); // the first window
    for (let i = 0; i < 100; i++) tftpTo(h, oack!.port, buildAck(0), 5000);
    expect(tftpReplies(h)).toHaveLength(8); // one resend, not 100 windows
    expect(h.gw.stats.dropped['tftp.duplicateAck']).toBe(99);
    vi.advanceTimersByTime(3000); // the timeout resends, and allows one more duplicate resend
    expect(tftpReplies(h)).toHaveLength(8);
    tftpTo(h, oack!.port, buildAck(0), 5000);
    tftpTo(h, oack!.port, buildAck(0), 5000);
    expect(tftpReplies(h)).toHaveLength(8);
    // Progress is served as always.
    tftpTo(h, oack!.port, buildAck(8), 5000);
    expect(tftpReplies(h).map((r) => (r.p as { block: number }).block)).toEqual([9, 10, 11, 12, 13, 14, 15, 16]);
    h.gw.close();
  });

  it('a session answers only the MAC that opened it: a neighbour on the same IP and port is refused', async () => {
    const h = harness({ tftpRoot: root });
    tftpTo(h, 69, rrq(), 5000);
    await h.gw.settled();
    const [oack] = tftpReplies(h);
    tftpTo(h, oack!.port, buildAck(0), 5000, mac(9));
    const rs = tftpReplies(h);
    expect(rs.map((r) => [r.p.op, r.dstMac])).toEqual([[OP_ERROR, macToString(mac(9))]]);
    expect(h.gw.stats.dropped['tftp.tid']).toBe(1);
    // And it cannot take over the endpoint with an RRQ of its own.
    tftpTo(h, 69, rrq(), 5000, mac(9));
    await h.gw.settled();
    expect(tftpReplies(h)).toEqual([]);
    expect(h.gw.stats.dropped['tftp.tid']).toBe(2);
    // The owner's transfer goes on.
    tftpTo(h, oack!.port, buildAck(0), 5000);
    expect(tftpReplies(h).map((r) => [r.p.op, r.dstMac])[0]).toEqual([OP_DATA, macToString(GUEST_MAC)]);
    h.gw.close();
  });

  it('refuses a file over the size cap with ERROR naming the size', async () => {
    const sent: Uint8Array[] = [];
    const drops: string[] = [];
    const server = new TftpServer({ root, send: (_to, _port, p) => sent.push(p), drop: (r) => drops.push(r), maxFileBytes: 8192 });
    await server.handle({ ip: CLIENT, port: 1, mac: GUEST_MAC }, 69, rrq('big'));
    const p = parseTftp(sent[0]!);
    expect(p.ok && p.value).toMatchObject({ op: OP_ERROR, message: 'file too large (8193 bytes; at most 8192)' });
    expect(drops).toEqual(['tftp.tooLarge']);
    expect(server.stats.filesHeld).toBe(0);
  });
});

// --- DHCP

function dhcpMessage(type: number, chaddr: Mac, requested?: number): Uint8Array {
  const options = new Map<number, Uint8Array>([[53, Uint8Array.of(type)]]);
  if (requested !== undefined) options.set(50, Uint8Array.of(requested >>> 24, (requested >>> 16) & 0xff, (requested >>> 8) & 0xff, requested & 0xff));
  if (type === DHCPREQUEST) options.set(54, Uint8Array.of(10, 0, 2, 2));
  const m: DhcpMessage = { op: 1, xid: 0x1234, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr, file: '', options };
  return buildDhcp(m);
}

/** Sends one DHCP message in a frame from `src`; returns the reply's type and address, if any. */
function dhcp(h: Harness, src: Mac, type: number, chaddr: Mac = src, requested?: number): { type: number | undefined; yiaddr: string } | undefined {
  h.gw.receive(udpFrame({ srcMac: src, src: 0, dst: IP_BROADCAST, srcPort: 68, dstPort: 67, payload: dhcpMessage(type, chaddr, requested) }));
  const out = h.take();
  if (out.length === 0) return undefined;
  const m = parseDhcp(decodeUdp(out[0]!).udp.payload);
  if (!m.ok) throw new Error(m.detail);
  return { type: messageType(m.value), yiaddr: ipToString(m.value.yiaddr) };
}

function bind(h: Harness, src: Mac): string {
  const offer = dhcp(h, src, DHCPDISCOVER);
  expect(offer?.type).toBe(DHCPOFFER);
  const ack = dhcp(h, src, DHCPREQUEST, src, Number(offer!.yiaddr.split('.').reduce((a, b) => a * 256 + Number(b), 0)));
  return ack!.yiaddr;
}

describe('DHCP against a hostile guest', () => {
  it('240 DISCOVERs naming made-up chaddrs from one NIC are refused; the real client still binds', () => {
    const h = harness();
    for (let i = 0; i < 240; i++) expect(dhcp(h, GUEST_MAC, DHCPDISCOVER, mac(i))).toBeUndefined();
    expect(h.gw.stats.dropped['dhcp.chaddr']).toBe(240);
    expect(h.gw.stats.dhcpLeases).toBe(0);
    expect(bind(h, GUEST_MAC)).toBe('10.0.2.15');
  });

  it('a flood of made-up source MACs is capped, its offers expire, and the pool comes back', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = harness();
    let offered = 0;
    for (let i = 0; i < 240; i++) if (dhcp(h, mac(i), DHCPDISCOVER)?.type === DHCPOFFER) offered++;
    expect(offered).toBe(128); // the lease cap
    expect(h.gw.stats.dropped['dhcp.leaseLimit']).toBe(112);
    expect(dhcp(h, GUEST_MAC, DHCPDISCOVER)).toBeUndefined(); // while the offers stand
    vi.advanceTimersByTime(61_000); // an offer nobody requested is held 60 s
    expect(bind(h, GUEST_MAC)).toMatch(/^10\.0\.2\.\d+$/);
    expect(h.gw.stats.dhcpLeases).toBe(1);
  });

  it('a gateway that knows its ports gives no lease to a MAC that is not one of them', () => {
    const h = harness({ client: (m) => (macToString(m) === macToString(GUEST_MAC) ? {} : undefined) });
    for (let i = 0; i < 240; i++) expect(dhcp(h, mac(i), DHCPDISCOVER)).toBeUndefined();
    expect(h.gw.stats.dropped['dhcp.unknownClient']).toBe(240);
    expect(bind(h, GUEST_MAC)).toBe('10.0.2.15');
  });

  it("a DECLINE naming another client's MAC leaves that lease alone", () => {
    const h = harness();
    const victim = mac(1);
    expect(bind(h, victim)).toBe('10.0.2.15');
    expect(dhcp(h, GUEST_MAC, DHCPDECLINE, victim, 0x0a00020f)).toBeUndefined();
    expect(h.gw.stats.dropped['dhcp.chaddr']).toBe(1);
    expect(h.gw.leaseOf(victim)).toBe('10.0.2.15');
  });

  it('DECLINE after DECLINE cannot burn the pool: one client holds at most four addresses out', () => {
    const h = harness();
    for (let i = 0; i < 240; i++) {
      const offer = dhcp(h, GUEST_MAC, DHCPDISCOVER);
      if (offer === undefined) break;
      const ip = offer.yiaddr.split('.').reduce((a, b) => a * 256 + Number(b), 0);
      dhcp(h, GUEST_MAC, DHCPDECLINE, GUEST_MAC, ip);
    }
    expect(h.gw.stats.dropped['dhcp.declineLimit']).toBeGreaterThan(200);
    // Four addresses declined (.15-.18), the fifth stays the attacker's lease; others bind after it.
    expect(h.gw.leaseOf(GUEST_MAC)).toBe('10.0.2.19');
    expect(bind(h, mac(1))).toBe('10.0.2.20');
  });
});
