import { describe, expect, it } from 'vitest';
import { BROADCAST_MAC, ETHERTYPE_IPV4, buildEthernet, type Mac } from './ethernet.js';
import { Gateway, slirpMac } from './gateway.js';
import { parseIpv4 } from './ipv4.js';
import { Switch } from './switch.js';
import { udpFrame } from './testing/guest.test-util.js';

const mac = (n: number): Mac => Uint8Array.of(0x52, 0x54, 0, 0, 0, n);
const frame = (dst: Mac, src: Mac) => buildEthernet(dst, src, ETHERTYPE_IPV4, new Uint8Array(46));

function rig() {
  const sw = new Switch({ maxAddresses: 2 });
  const got: Record<string, Uint8Array[]> = { a: [], b: [], c: [] };
  for (const id of ['a', 'b', 'c']) sw.addPort(id, (f) => got[id]!.push(f));
  return { sw, got };
}

describe('Switch', () => {
  it('floods broadcast and unknown unicast, then forwards to the learned port only', () => {
    const { sw, got } = rig();
    sw.receive('a', frame(BROADCAST_MAC, mac(1)));
    expect([got.a!.length, got.b!.length, got.c!.length]).toEqual([0, 1, 1]);
    sw.receive('b', frame(mac(1), mac(2))); // mac(1) learned on a
    expect([got.a!.length, got.b!.length, got.c!.length]).toEqual([1, 1, 1]);
    sw.receive('a', frame(mac(2), mac(1)));
    expect([got.a!.length, got.b!.length, got.c!.length]).toEqual([1, 2, 1]);
    sw.receive('c', frame(mac(9), mac(3))); // unknown: flood
    expect([got.a!.length, got.b!.length, got.c!.length]).toEqual([2, 3, 1]);
    expect(sw.stats('a')).toMatchObject({ framesIn: 2, framesOut: 2, flooded: 1, bytesIn: 120 });
    expect(sw.stats('c').flooded).toBe(1);
    expect(sw.lookup(mac(2))).toBe('b');
  });

  it('moves a learned MAC when it shows up on another port', () => {
    const { sw } = rig();
    sw.receive('a', frame(BROADCAST_MAC, mac(1)));
    sw.receive('b', frame(BROADCAST_MAC, mac(1)));
    expect(sw.lookup(mac(1))).toBe('b');
  });

  it('keeps declared port MACs fixed and counts a spoofed source', () => {
    const sw = new Switch();
    const got: Uint8Array[] = [];
    sw.addPort('vm', () => undefined, [mac(1)]);
    sw.addPort('gw', (f) => got.push(f), [mac(2)]);
    sw.addPort('evil', () => undefined);
    sw.receive('evil', frame(mac(2), mac(1)));
    expect(got).toHaveLength(1);
    expect(sw.lookup(mac(1))).toBe('vm');
    expect(sw.stats('evil').dropped).toEqual({ spoofedSrc: 1 });
    expect(() => sw.addPort('dup', () => undefined, [mac(2)])).toThrow(/already port "gw"/);
  });

  it('counts bad frames, hairpins, a full table and a throwing port; never throws for a frame', () => {
    const { sw } = rig();
    sw.receive('a', new Uint8Array(10));
    sw.receive('a', new Uint8Array(1515));
    sw.receive('a', frame(mac(1), BROADCAST_MAC));
    sw.receive('a', frame(BROADCAST_MAC, mac(1)));
    sw.receive('a', frame(mac(1), mac(5))); // mac(1) is on a itself
    sw.receive('b', frame(BROADCAST_MAC, mac(6))); // table holds 2
    expect(sw.stats('a').dropped).toEqual({ truncated: 1, oversized: 1, srcMulticast: 1, samePort: 1 });
    expect(sw.stats('b').dropped).toEqual({ tableFull: 1 });
    sw.addPort('bad', () => {
      throw new Error('closed');
    });
    expect(() => sw.receive('a', frame(BROADCAST_MAC, mac(1)))).not.toThrow();
    expect(sw.stats('bad').dropped).toEqual({ sendError: 1 });
  });

  it('forgets a removed port and its MACs', () => {
    const { sw } = rig();
    sw.receive('a', frame(BROADCAST_MAC, mac(1)));
    sw.removePort('a');
    expect(sw.lookup(mac(1))).toBeUndefined();
    expect(sw.portIds()).toEqual(['b', 'c']);
    expect(() => sw.receive('a', frame(BROADCAST_MAC, mac(1)))).toThrow(/no port "a"/);
  });

  it('carries a DHCP exchange between a guest and the gateway without the other guest seeing the reply', () => {
    const sw = new Switch();
    const seen: Record<string, Uint8Array[]> = { vm1: [], vm2: [] };
    const gw = new Gateway({ send: (f) => sw.receive('gw', f) });
    sw.addPort('gw', (f) => gw.receive(f), [slirpMac(0x0a000202)]);
    sw.addPort('vm1', (f) => seen.vm1!.push(f), [mac(1)]);
    sw.addPort('vm2', (f) => seen.vm2!.push(f), [mac(2)]);
    const discover = new Uint8Array(244);
    discover.set([1, 1, 6], 0);
    discover.set(mac(1), 28);
    discover.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255], 236);
    sw.receive('vm1', udpFrame({ srcMac: mac(1), src: 0, dst: 0xffffffff, srcPort: 68, dstPort: 67, payload: discover, zeroChecksum: true }));
    expect(seen.vm2).toHaveLength(1); // the DISCOVER broadcast, flooded
    expect(seen.vm1).toHaveLength(1); // the OFFER, to vm1's MAC only
    const ip = parseIpv4(seen.vm1![0]!.subarray(14));
    expect(ip.ok && ip.value.payload[1]).toBe(67 & 0xff);
    expect(gw.stats.dhcpOffers).toBe(1);
    expect(sw.stats('gw')).toMatchObject({ framesIn: 1, framesOut: 1, flooded: 0 });
  });
});
