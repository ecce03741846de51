import { describe, expect, it } from 'vitest';
import { badNodeAddress, checkNodeId, encodeNodeEntry, nodeKey, parseNodeEntry, toNodeId } from './node-registry.js';

describe('node registry entries', () => {
  const good = { id: 'n1', addr: '10.0.0.7:50052', startedAt: 1, pid: 42, host: 'box' };

  it('round-trips an entry under its key', () => {
    expect(nodeKey('n1')).toBe('cpu.n1');
    expect(parseNodeEntry('cpu.n1', encodeNodeEntry(good))).toEqual({ ok: true, entry: good });
    expect(parseNodeEntry('cpu.n1', Buffer.from(encodeNodeEntry(good)))).toEqual({ ok: true, entry: good });
  });

  it('refuses what is not a node, saying why', () => {
    const bad = (key: string, value: string) => {
      const p = parseNodeEntry(key, value);
      expect(p.ok).toBe(false);
      return p.ok ? '' : p.error;
    };
    expect(bad('cpu.n1', 'not json{')).toMatch(/not JSON/);
    expect(bad('cpu.n1', '[1]')).toMatch(/not a JSON object/);
    expect(bad('cpu.n1', 'null')).toMatch(/not a JSON object/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, id: 'other' }))).toMatch(/id "other" is not the key's "n1"/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: undefined }))).toMatch(/addr is missing/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: 7 }))).toMatch(/addr is a number/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: 'garbage' }))).toMatch(/"garbage" is not host:port/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: 'h:0' }))).toMatch(/out of range/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: 'h:70000' }))).toMatch(/out of range/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: '0.0.0.0:50052' }))).toMatch(/wildcard/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: '[::]:50052' }))).toMatch(/wildcard/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: '300.1.1.1:5' }))).toMatch(/not an IPv4 address/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, addr: '-bad-.x:5' }))).toMatch(/not a host name/);
    expect(bad('cpu.n1', JSON.stringify({ ...good, startedAt: 'soon' }))).toMatch(/startedAt "soon" is not a time/);
    expect(bad('mmu.n1', encodeNodeEntry(good))).toMatch(/key "mmu.n1" is not cpu.<node id>/);
    expect(bad('cpu.a.b', encodeNodeEntry(good))).toMatch(/is not cpu.<node id>/);
  });

  it('takes host names, IPv4 and bracketed IPv6 addresses', () => {
    for (const a of ['cpu:50052', 'splitvisor-cpu-2.lab:1', '127.0.0.1:50052', '[fd00::7]:50052']) expect(badNodeAddress(a), a).toBeUndefined();
  });

  it('node ids are one KV token', () => {
    expect(checkNodeId('cpu-2_x')).toBe('cpu-2_x');
    expect(() => checkNodeId('a.b')).toThrow(/cpu node id "a.b"/);
    expect(() => checkNodeId('')).toThrow();
    expect(toNodeId('box.example.org-50052')).toBe('box-example-org-50052');
    expect(toNodeId('...')).toBe('cpu');
  });
});
