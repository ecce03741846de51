// The virtual switch over a real nats-server: ports on two hubs (as on two io-backends)
// reach each other, a port never hears its own frames or frames for another MAC, and the
// gateway on the switch answers ARP for 10.0.2.2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus, subjects } from '@splitvisor/bus';
import {
  ARP_REPLY,
  ARP_REQUEST,
  BROADCAST_MAC,
  DHCPDISCOVER,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IP_BROADCAST,
  PROTO_ICMP,
  PROTO_UDP,
  buildArp,
  buildDhcp,
  OP_DATA,
  OP_ERROR,
  OP_RRQ,
  buildEthernet,
  buildIpv4,
  buildRequest,
  buildUdp,
  parseArp,
  parseEthernet,
  parseIp,
  parseIpv4,
  parseTftp,
  parseUdp,
  slirpMac,
} from '@splitvisor/netstack';
import { silentLogger, startTestNats, until, type TestNats } from '@splitvisor/testing';
import { NetworkHub, type PortHandle } from './network-hub.js';
import { parseVirtioParams } from './plug.js';

let nats: TestNats;
let busA: Bus;
let busB: Bus;
let hubA: NetworkHub;
let hubB: NetworkHub;

beforeAll(async () => {
  nats = await startTestNats();
  busA = await Bus.connect({ url: nats.url, name: 'io-a', log: silentLogger() });
  busB = await Bus.connect({ url: nats.url, name: 'io-b', log: silentLogger() });
  hubA = new NetworkHub(busA, silentLogger());
  hubB = new NetworkHub(busB, silentLogger());
}, 60_000);
afterAll(async () => {
  hubA?.stop();
  hubB?.stop();
  await busA?.drain();
  await busB?.drain();
  await nats?.stop();
});

const mac = (last: number) => Uint8Array.of(0x52, 0x54, 0, 0, 0, last);

function port(m: Uint8Array) {
  const got: Uint8Array[] = [];
  return { got, port: { mac: m, deliver: (f: Uint8Array) => got.push(f) } };
}

describe('NetworkHub', () => {
  it('carries frames between ports on two hubs, by destination MAC, never back to the sender', async () => {
    const a = port(mac(1));
    const b = port(mac(2));
    const c = port(mac(3));
    const ha = hubA.join('t1', a.port);
    hubB.join('t1', b.port);
    hubB.join('t1', c.port);
    await busA.nc.flush();
    await busB.nc.flush();
    ha.send(buildEthernet(mac(2), mac(1), 0x88b5, Uint8Array.of(1, 2, 3)));
    await until(() => b.got.length === 1, 'frame for b', 5000);
    expect(parseEthernet(b.got[0]!)).toMatchObject({ ok: true, value: { etherType: 0x88b5 } });
    ha.send(buildEthernet(BROADCAST_MAC, mac(1), 0x88b5, Uint8Array.of(9)));
    await until(() => b.got.length === 2 && c.got.length === 1, 'broadcast for b and c', 5000);
    await busA.nc.flush();
    expect(a.got).toHaveLength(0); // its own frames, unicast or broadcast, never come back
    expect(c.got).toHaveLength(1); // the unicast for b was not for c
    expect(hubB.stats('t1')).toMatchObject({ ports: 2, framesIn: 2 });
  });

  it('has the gateway on every network: it answers ARP for 10.0.2.2 with its slirp MAC', async () => {
    const a = port(mac(7));
    const h = hubA.join('t2', a.port);
    await busA.nc.flush();
    const ask = buildArp({
      operation: ARP_REQUEST,
      senderMac: mac(7),
      senderIp: parseIp('10.0.2.15'),
      targetMac: new Uint8Array(6),
      targetIp: parseIp('10.0.2.2'),
    });
    h.send(buildEthernet(BROADCAST_MAC, mac(7), ETHERTYPE_ARP, ask));
    await until(() => a.got.length === 1, 'ARP reply', 5000);
    const eth = parseEthernet(a.got[0]!);
    if (!eth.ok) throw new Error(eth.detail);
    const arp = parseArp(eth.value.payload);
    if (!arp.ok) throw new Error(arp.detail);
    expect(arp.value.operation).toBe(ARP_REPLY);
    expect([...arp.value.senderMac]).toEqual([0x52, 0x55, 10, 0, 2, 2]);
    h.leave();
    expect(hubA.stats('t2')).toBeUndefined(); // the last port left: switch and gateway gone
  });

  it("serves each NIC its own TFTP directory: a neighbour asking for another VM's file is told it is not there", { timeout: 15_000 }, async () => {
    const dirA = mkdtempSync(join(tmpdir(), 'hub-tftp-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'hub-tftp-b-'));
    writeFileSync(join(dirA, 'secret-a.txt'), 'for A only');
    writeFileSync(join(dirB, 'b.txt'), 'for B');
    const a = port(mac(8));
    const b = port(mac(9));
    const c = port(mac(10)); // names no directory, as the first NIC on a network often does
    const hc = hubA.join('t3', c.port);
    const ha = hubA.join('t3', a.port, { tftpRoot: dirA });
    const hb = hubA.join('t3', b.port, { tftpRoot: dirB });
    await busA.nc.flush();
    const ask = (h: PortHandle, m: Uint8Array, srcPort: number, file: string) =>
      h.send(
        udpFrame(m, slirpMac(parseIp('10.0.2.2')), parseIp('10.0.2.15'), parseIp('10.0.2.2'), srcPort, 69, buildRequest(OP_RRQ, file, 'octet', new Map())),
      );
    ask(ha, mac(8), 1001, 'secret-a.txt');
    ask(hb, mac(9), 1002, 'secret-a.txt');
    ask(hb, mac(9), 1003, 'b.txt');
    await until(() => a.got.length === 1 && b.got.length === 2, 'TFTP answers', 5000);
    expect(tftpAnswer(a.got[0]!)).toEqual({ op: OP_DATA, text: 'for A only' });
    const bAnswers = b.got.map(tftpAnswer);
    expect(bAnswers).toContainEqual({ op: OP_ERROR, text: 'file not found' });
    expect(bAnswers).toContainEqual({ op: OP_DATA, text: 'for B' });
    expect(hubA.stats('t3')?.tftpRoots.sort()).toEqual([dirA, dirB].sort());
    // A NIC with no directory gets no TFTP at all (port unreachable), not a neighbour's.
    ask(hc, mac(10), 1004, 'secret-a.txt');
    await until(() => c.got.length === 1, 'ICMP for c', 5000);
    expect(parseIpv4((parseEthernet(c.got[0]!) as { value: { payload: Uint8Array } }).value.payload)).toMatchObject({
      ok: true,
      value: { protocol: PROTO_ICMP },
    });
    for (const h of [ha, hb, hc]) h.leave();
    rmSync(dirA, { recursive: true });
    rmSync(dirB, { recursive: true });
  });

  it('gives no DHCP lease to a MAC that is not a port of this hub (a frame published by anyone else)', { timeout: 15_000 }, async () => {
    const a = port(mac(11));
    const ha = hubA.join('t4', a.port);
    await busA.nc.flush();
    const discover = (m: Uint8Array) =>
      buildDhcp({
        op: 1,
        xid: 7,
        secs: 0,
        flags: 0,
        ciaddr: 0,
        yiaddr: 0,
        siaddr: 0,
        giaddr: 0,
        chaddr: m,
        file: '',
        options: new Map([[53, Uint8Array.of(DHCPDISCOVER)]]),
      });
    const stranger = Uint8Array.of(0x52, 0x54, 0, 0x66, 0, 1);
    busB.nc.publish(subjects.netFrames('t4'), udpFrame(stranger, BROADCAST_MAC, 0, IP_BROADCAST, 68, 67, discover(stranger)));
    ha.send(udpFrame(mac(11), BROADCAST_MAC, 0, IP_BROADCAST, 68, 67, discover(mac(11))));
    // The port also hears the stranger's broadcast, as any port on a switch would.
    const fromGateway = () => a.got.filter((f) => f[6] === 0x52 && f[7] === 0x55);
    await until(() => fromGateway().length === 1, 'OFFER for the port', 5000);
    await busA.nc.flush();
    expect(hubA.stats('t4')?.gateway).toMatchObject({ dhcpOffers: 1, dhcpLeases: 1, dropped: { 'dhcp.unknownClient': 1 } });
    ha.leave();
  });
});

function udpFrame(src: Uint8Array, dst: Uint8Array, srcIp: number, dstIp: number, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  return buildEthernet(dst, src, ETHERTYPE_IPV4, buildIpv4({ src: srcIp, dst: dstIp, protocol: PROTO_UDP }, buildUdp(srcIp, dstIp, srcPort, dstPort, payload)));
}

function tftpAnswer(frame: Uint8Array): { op: number; text: string } {
  const eth = parseEthernet(frame);
  if (!eth.ok) throw new Error(eth.detail);
  const ip = parseIpv4(eth.value.payload);
  if (!ip.ok) throw new Error(ip.detail);
  const udp = parseUdp(ip.value.src, ip.value.dst, ip.value.payload);
  if (!udp.ok) throw new Error(udp.detail);
  const p = parseTftp(udp.value.payload);
  if (!p.ok) throw new Error(p.detail);
  const v = p.value as { op: number; data?: Uint8Array; message?: string };
  return { op: v.op, text: v.data !== undefined ? new TextDecoder().decode(v.data) : v.message! };
}

describe('virtio params from the store', () => {
  it('parses what dom0 writes', () => {
    expect(parseVirtioParams('virtio-blk0', { kind: 'virtio-blk', slot: '7', path: '/d.img', mode: 'r', serial: 'x' })).toEqual({
      kind: 'virtio-blk',
      slot: 7,
      path: '/d.img',
      readOnly: true,
      serial: 'x',
    });
    expect(parseVirtioParams('virtio-net0', { kind: 'virtio-net', slot: '6', network: 'lab0', mac: '52:54:00:12:34:56' })).toMatchObject({
      slot: 6,
      network: 'lab0',
    });
  });

  it.each([
    [{ kind: 'virtio-rng', slot: '8' }, /device d: param slot="8": must be a virtio-mmio slot 0..7/],
    [{ kind: 'virtio-rng' }, /param slot=null/],
    [{ kind: 'virtio-gpu', slot: '1' }, /param kind="virtio-gpu": is not one of virtio-blk, virtio-net, virtio-rng/],
    [{ kind: 'virtio-blk', slot: '1', path: 'rel.img' }, /param path="rel.img": must be an absolute path/],
    [{ kind: 'virtio-blk', slot: '1', path: '/a', mode: 'x' }, /param mode="x"/],
    [{ kind: 'virtio-net', slot: '1', network: 'a.b', mac: '52:54:00:12:34:56' }, /param network="a.b"/],
    [{ kind: 'virtio-net', slot: '1', network: 'n', mac: '01:54:00:12:34:56' }, /param mac="01:54:00:12:34:56": is a multicast address/],
    [{ kind: 'virtio-net', slot: '1', network: 'n', mac: '52:54:00:12:34:56', tftp: 'rel' }, /param tftp="rel"/],
  ])('refuses %j naming the param and value', (params, message) => {
    expect(() => parseVirtioParams('d', params)).toThrow(message);
  });
});
