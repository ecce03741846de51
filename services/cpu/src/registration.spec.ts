import { describe, expect, it } from 'vitest';
import type { NetworkInterfaceInfo } from 'node:os';
import { advertisedAddress, defaultNodeId } from './registration.js';

const iface = (address: string, internal: boolean, family: 'IPv4' | 'IPv6' = 'IPv4') => ({ address, internal, family }) as NetworkInterfaceInfo;

describe('advertisedAddress', () => {
  const host = { interfaces: { lo: [iface('127.0.0.1', true)], eth0: [iface('fe80::1', false, 'IPv6'), iface('172.18.0.5', false)] }, name: 'c0ffee' };

  it('is the one given, when given', () => {
    expect(advertisedAddress('0.0.0.0:50052', 50052, 'cpu-a:7000', host)).toBe('cpu-a:7000');
  });

  it('is the listen address with the port bound, when it names a host', () => {
    expect(advertisedAddress('127.0.0.1:0', 41234, '', host)).toBe('127.0.0.1:41234');
    expect(advertisedAddress('node7:50052', 50052, '', host)).toBe('node7:50052');
  });

  it('for a wildcard, this host’s first external IPv4 address (a container on its network)', () => {
    for (const l of ['0.0.0.0:50052', '[::]:50052', ':50052']) expect(advertisedAddress(l, 50052, '', host), l).toBe('172.18.0.5:50052');
  });

  it('for a wildcard on a host without one, its host name', () => {
    expect(advertisedAddress('0.0.0.0:50052', 50052, '', { interfaces: { lo: [iface('127.0.0.1', true)] }, name: 'c0ffee' })).toBe('c0ffee:50052');
  });
});

describe('defaultNodeId', () => {
  it('is the host name and the port, as one KV token', () => {
    expect(defaultNodeId(50052, 'box.example.org')).toBe('box-example-org-50052');
  });
});
