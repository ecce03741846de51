import { describe, expect, it } from 'vitest';
import { checkDeviceId, decodeDeviceEnd, encodeDeviceEnd, parseDeviceKey } from './xenbus.js';

describe('xenbus device ends', () => {
  it('round-trips a state with the params the toolstack hands the backend', () => {
    const v = { state: 'Initialising' as const, by: 'dom0', at: 5, params: { kind: 'virtio-blk', path: '/d.img', mode: 'r', slot: '7' } };
    expect(decodeDeviceEnd(encodeDeviceEnd(v))).toEqual(v);
  });

  it('drops params that are not flat strings, and anything that is not an end state', () => {
    expect(decodeDeviceEnd(JSON.stringify({ state: 'InitWait', by: 'io', at: 1, params: { slot: 7 } }))).toEqual({ state: 'InitWait', by: 'io', at: 1 });
    expect(decodeDeviceEnd(JSON.stringify({ state: 'Bogus' }))).toBeUndefined();
    expect(decodeDeviceEnd('{not json')).toBeUndefined();
  });

  it('parses device keys and checks device ids', () => {
    expect(parseDeviceKey('vm.a.device.virtio-blk0.backend')).toEqual({ vm: 'a', dev: 'virtio-blk0', end: 'backend' });
    expect(parseDeviceKey('vm.a.config')).toBeUndefined();
    expect(() => checkDeviceId('Bad.Id')).toThrow(/device id: "Bad.Id"/);
  });
});
