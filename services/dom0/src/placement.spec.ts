import { describe, expect, it } from 'vitest';
import { leastLoaded, nodeLoads } from './placement.js';
import type { VmRecord, VmState } from './vm-state.js';

const vm = (name: string, node: string, state: VmState = 'running'): VmRecord => ({
  name,
  state,
  node,
  memoryBytes: 1,
  image: '',
  entry: 0,
  ramBase: 0,
  reason: '',
  exitCode: 0,
  createdAt: 0,
  startedAt: 0,
  stoppedAt: 0,
});

describe('placement', () => {
  const nodes = ['a:1', 'b:2'];

  it('picks the least loaded node, the earlier one on a tie', () => {
    expect(leastLoaded(nodes, [])).toBe('a:1');
    expect(leastLoaded(nodes, [vm('x', 'a:1')])).toBe('b:2');
    expect(leastLoaded(nodes, [vm('x', 'a:1'), vm('y', 'b:2')])).toBe('a:1');
  });

  it('counts only VMs that hold or may hold a vCPU there', () => {
    const vms = [vm('x', 'a:1', 'stopped'), vm('y', 'a:1', 'failed'), vm('z', 'a:1', 'preserved'), vm('w', 'b:2', 'created'), vm('v', 'gone:3')];
    expect(Object.fromEntries(nodeLoads(nodes, vms))).toEqual({ 'a:1': 0, 'b:2': 1 });
    expect(leastLoaded(nodes, vms)).toBe('a:1');
  });

  it('skips excluded nodes and says when none is left', () => {
    expect(leastLoaded(nodes, [], new Set(['a:1']))).toBe('b:2');
    expect(() => leastLoaded(nodes, [], new Set(nodes))).toThrow(/no cpu node can take the vm/);
  });
});
