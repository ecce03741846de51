// The virtual switch over a real nats-server: ports on two hubs (as on two io-backends)
// reach each other, a port never hears its own frames or frames for another MAC, and the
// gateway on the switch answers ARP for 10.0.2.2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@splitvisor/bus';
import { ARP_REPLY, ARP_REQUEST, BROADCAST_MAC, ETHERTYPE_ARP, buildArp, buildEthernet, parseArp, parseEthernet, parseIp } from '@splitvisor/netstack';
import { silentLogger, startTestNats, until, type TestNats } from '@splitvisor/testing';
import { NetworkHub } from './network-hub.js';
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
    const ask = buildArp({ operation: ARP_REQUEST, senderMac: mac(7), senderIp: parseIp('10.0.2.15'), targetMac: new Uint8Array(6), targetIp: parseIp('10.0.2.2') });
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

  it('refuses a second TFTP directory for a network whose gateway already serves one', () => {
    const h = hubA.join('t3', port(mac(8)).port, { tftpRoot: '/srv/a' });
    expect(() => hubA.join('t3', port(mac(9)).port, { tftpRoot: '/srv/b' })).toThrow('network "t3": its gateway already serves TFTP from /srv/a; this NIC asks for /srv/b');
    h.leave();
  });
});

describe('virtio params from the store', () => {
  it('parses what dom0 writes', () => {
    expect(parseVirtioParams('virtio-blk0', { kind: 'virtio-blk', slot: '7', path: '/d.img', mode: 'r', serial: 'x' })).toEqual({
      kind: 'virtio-blk',
      slot: 7,
      path: '/d.img',
      readOnly: true,
      serial: 'x',
    });
    expect(parseVirtioParams('virtio-net0', { kind: 'virtio-net', slot: '6', network: 'lab0', mac: '52:54:00:12:34:56' })).toMatchObject({ slot: 6, network: 'lab0' });
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
