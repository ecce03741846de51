import { describe, expect, it } from 'vitest';
import { RpcError } from '@splitvisor/rpc';
import { canDo, isFinal, isOff, occupiesNode, requireState, toVmInfo, vcpuMayRun, type VmAction, type VmRecord, type VmState } from './vm-state.js';

const STATES: VmState[] = ['created', 'running', 'paused', 'stopping', 'rebooting', 'stopped', 'failed', 'preserved', 'destroyed'];

/** The whole table, so a change to it is a change to this test. */
const LEGAL: Record<VmAction, VmState[]> = {
  start: ['created', 'stopped', 'failed'],
  pause: ['running'],
  resume: ['paused'],
  shutdown: ['running', 'paused'],
  reboot: ['running', 'paused'],
  destroy: ['created', 'running', 'paused', 'stopping', 'rebooting', 'stopped', 'failed', 'preserved'],
  replace: ['stopped', 'failed', 'destroyed'],
};

describe('VM state machine', () => {
  it('allows exactly the legal transitions', () => {
    for (const [action, states] of Object.entries(LEGAL) as [VmAction, VmState[]][]) {
      for (const s of STATES) expect(canDo(s, action), `${action} from ${s}`).toBe(states.includes(s));
    }
  });

  it('says which states hold what', () => {
    expect(STATES.filter(isFinal)).toEqual(['stopped', 'failed', 'destroyed']);
    expect(STATES.filter(isOff)).toEqual(['stopped', 'failed', 'preserved', 'destroyed']);
    expect(STATES.filter(vcpuMayRun)).toEqual(['running', 'paused', 'stopping', 'rebooting']);
    expect(STATES.filter(occupiesNode)).toEqual(['created', 'running', 'paused', 'stopping', 'rebooting']);
  });

  it('refuses an illegal request naming the state', () => {
    let err: unknown;
    try {
      requireState('web', 'running', 'start');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('FAILED_PRECONDITION');
    expect((err as RpcError).message).toBe('vm "web" is running; start needs it to be created or stopped or failed');
    expect(() => requireState('web', 'created', 'pause')).toThrow('vm "web" is created; pause needs it to be running');
  });

  it('reports uptime only while a boot is on, and fills defaults for old records', () => {
    const r: VmRecord = {
      name: 'a',
      state: 'running',
      memoryBytes: 1,
      image: 'i',
      entry: 0,
      ramBase: 0,
      reason: '',
      exitCode: 0,
      createdAt: 0,
      startedAt: 1000,
      stoppedAt: 0,
    };
    expect(toVmInfo(r, 3500)).toMatchObject({
      uptimeSeconds: 2.5,
      node: '',
      onReboot: 'restart',
      onPoweroff: 'destroy',
      onCrash: 'destroy',
      vcpus: 1,
      boots: 1,
    });
    expect(toVmInfo({ ...r, state: 'stopped', stoppedAt: 2000 }, 3500).uptimeSeconds).toBe(0);
  });
});
