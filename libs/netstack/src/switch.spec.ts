import { describe, expect, it } from 'vitest';
import { BROADCAST_MAC, ETHERTYPE_IPV4, buildEthernet, type Mac } from './ethernet.js';
import { Switch } from './switch.js';

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
    sw.addPort('bad', () => { throw new Error('closed'); });
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
});
