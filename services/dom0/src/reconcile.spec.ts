import { describe, expect, it } from 'vitest';
import { afterNodeLoss, decide, type Holdings } from './reconcile.js';
import type { VmRecord, VmState } from './vm-state.js';

const vm = (state: VmState, reason = ''): VmRecord => ({
  name: 'web',
  state,
  node: 'n:1',
  memoryBytes: 1,
  image: '',
  entry: 0,
  ramBase: 0,
  reason,
  exitCode: 0,
  createdAt: 0,
  startedAt: 0,
  stoppedAt: 0,
});
const all = (over: Partial<Holdings> = {}): Holdings => ({ cpu: 'running', mmu: 'present', io: 'present', ...over });

describe('reconciling after a dom0 restart', () => {
  it('keeps what agrees, and what it cannot check', () => {
    expect(decide(vm('running'), all())).toEqual({ kind: 'keep' });
    expect(decide(vm('running'), all({ cpu: 'unknown', mmu: 'unknown' }))).toEqual({ kind: 'keep' });
    expect(decide(vm('created'), all({ cpu: 'absent' }))).toEqual({ kind: 'keep' });
    expect(decide(vm('stopped'), all({ cpu: 'absent', mmu: 'absent', io: 'absent' }))).toEqual({ kind: 'keep' });
  });

  it('fails a VM whose vCPU, memory or devices are gone, saying which', () => {
    expect(decide(vm('running'), all({ cpu: 'absent' }))).toEqual({ kind: 'fail', reason: 'cpu node n:1 no longer runs it (found when dom0 came back)' });
    expect(decide(vm('paused'), all({ cpu: 'exited' }))).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/exited while dom0 was away/) });
    expect(decide(vm('running'), all({ mmu: 'absent' }))).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/^mmu no longer holds its memory/) });
    expect(decide(vm('preserved'), all({ cpu: 'absent', io: 'absent' }))).toMatchObject({
      kind: 'fail',
      reason: expect.stringMatching(/^io-backend no longer has its devices/),
    });
  });

  it('believes the cpu about pause, and finishes what dom0 was doing', () => {
    expect(decide(vm('running'), all({ cpu: 'paused' }))).toMatchObject({ kind: 'adopt', state: 'paused' });
    expect(decide(vm('paused'), all({ cpu: 'running' }))).toMatchObject({ kind: 'adopt', state: 'running' });
    expect(decide(vm('stopping', 'shut down by request'), all())).toEqual({ kind: 'finish-stop', reason: 'shut down by request' });
    expect(decide(vm('stopping'), all())).toEqual({ kind: 'finish-stop', reason: 'stopped while dom0 was away' });
    expect(decide(vm('rebooting'), all())).toEqual({ kind: 'finish-reboot' });
  });
});

describe('after a cpu node was lost', () => {
  const why = 'its health stream ended: Connection dropped';
  it('a VM the node no longer has, or that the node cannot say, crashed there: the reason names the node and how', () => {
    expect(afterNodeLoss(vm('running'), 'n:1', 'absent', why)).toBe(`cpu node n:1 died (${why}) and came back without it`);
    expect(afterNodeLoss(vm('paused'), 'n:1', 'unknown', why)).toBe(`cpu node n:1 died (${why}) and does not answer`);
  });

  it('leaves alone a VM the node still has, one on another node, and one not running', () => {
    expect(afterNodeLoss(vm('running'), 'n:1', 'running', why)).toBeUndefined();
    expect(afterNodeLoss(vm('running'), 'n:1', 'exited', why)).toBeUndefined();
    expect(afterNodeLoss(vm('running'), 'n:2', 'absent', why)).toBeUndefined();
    for (const s of ['created', 'stopped', 'failed', 'preserved', 'rebooting'] as VmState[]) expect(afterNodeLoss(vm(s), 'n:1', 'absent', why)).toBeUndefined();
  });
});
