import { describe, expect, it } from 'vitest';
import { encodeNodeEntry } from '@splitvisor/bus';
import { NodeTable } from './node-table.js';

const entry = (id: string, addr: string) => encodeNodeEntry({ id, addr, startedAt: 1 });

describe('NodeTable', () => {
  it('a registered node is live until its entry is deleted', () => {
    const t = new NodeTable(1000);
    expect(t.live()).toEqual([]);
    expect(t.put('cpu.a', entry('a', 'h:1'), 0)).toEqual([{ kind: 'up', addr: 'h:1', id: 'a' }]);
    expect(t.put('cpu.a', entry('a', 'h:1'), 500)).toEqual([]); // a heartbeat
    expect(t.put('cpu.b', entry('b', 'h:2'), 600)).toEqual([{ kind: 'up', addr: 'h:2', id: 'b' }]);
    expect(t.live()).toEqual(['h:1', 'h:2']);
    expect(t.delete('cpu.a')).toEqual([{ kind: 'gone', addr: 'h:1', id: 'a', why: 'it left the node registry' }]);
    expect(t.live()).toEqual(['h:2']);
    expect(t.delete('cpu.a')).toEqual([]);
  });

  it('an entry not renewed for a TTL expires; heartbeats keep one alive', () => {
    const t = new NodeTable(1000);
    t.put('cpu.a', entry('a', 'h:1'), 0);
    t.put('cpu.b', entry('b', 'h:2'), 0);
    t.put('cpu.b', entry('b', 'h:2'), 900);
    expect(t.sweep(1000)).toEqual([]);
    const gone = t.sweep(1001);
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatchObject({ kind: 'gone', addr: 'h:1', id: 'a' });
    expect((gone[0] as { why: string }).why).toMatch(/^its registry entry expired \(no heartbeat for 1001 ms\)$/);
    expect(t.live()).toEqual(['h:2']);
    // Back again: found again, and last in the tie-break order.
    expect(t.put('cpu.a', entry('a', 'h:1'), 1100)).toEqual([{ kind: 'up', addr: 'h:1', id: 'a' }]);
    expect(t.live()).toEqual(['h:2', 'h:1']);
  });

  it('touchAll gives every entry a fresh TTL (NATS was away)', () => {
    const t = new NodeTable(1000);
    t.put('cpu.a', entry('a', 'h:1'), 0);
    t.touchAll(5000);
    expect(t.sweep(5500)).toEqual([]);
    expect(t.sweep(6001)).toHaveLength(1);
  });

  it('static nodes are always live and first; registering one changes nothing', () => {
    const t = new NodeTable(1000, ['s:1']);
    expect(t.live()).toEqual(['s:1']);
    expect(t.put('cpu.s', entry('s', 's:1'), 0)).toEqual([]);
    expect(t.put('cpu.a', entry('a', 'h:1'), 0)).toEqual([{ kind: 'up', addr: 'h:1', id: 'a' }]);
    expect(t.live()).toEqual(['s:1', 'h:1']);
    expect(t.sweep(5000).map((e) => e.kind === 'gone' && e.addr)).toEqual(['h:1']);
    expect(t.live()).toEqual(['s:1']);
  });

  it('a node that moves is gone at its old address and up at its new one', () => {
    const t = new NodeTable(1000);
    t.put('cpu.a', entry('a', 'h:1'), 0);
    expect(t.put('cpu.a', entry('a', 'h:9'), 10)).toEqual([
      { kind: 'gone', addr: 'h:1', id: 'a', why: 'node a now says it is at h:9' },
      { kind: 'up', addr: 'h:9', id: 'a' },
    ]);
    expect(t.live()).toEqual(['h:9']);
  });

  it('a malformed entry is ignored, told once until it changes; a good one then counts', () => {
    const t = new NodeTable(1000);
    const ev = t.put('cpu.x', 'garbage', 0);
    expect(ev).toEqual([{ kind: 'bad', key: 'cpu.x', error: expect.stringMatching(/not JSON/) }]);
    expect(t.put('cpu.x', 'garbage', 1)).toEqual([]);
    expect(t.put('cpu.x', entry('x', '0.0.0.0:5'), 2)).toEqual([{ kind: 'bad', key: 'cpu.x', error: expect.stringMatching(/wildcard/) }]);
    expect(t.put('cpu.y', entry('x', 'h:1'), 2)).toEqual([{ kind: 'bad', key: 'cpu.y', error: expect.stringMatching(/not the key's "y"/) }]);
    expect(t.live()).toEqual([]);
    expect(t.put('cpu.x', entry('x', 'h:3'), 3)).toEqual([{ kind: 'up', addr: 'h:3', id: 'x' }]);
    // A live node whose next put is garbage keeps its last good entry until it expires.
    expect(t.put('cpu.x', '{', 4)).toHaveLength(1);
    expect(t.live()).toEqual(['h:3']);
    expect(t.sweep(1004)).toHaveLength(1);
  });
});
