import { describe, expect, it } from 'vitest';
import { RpcError } from '@splitvisor/rpc';
import { canDo, isFinal, requireState } from './vm-state.js';

describe('VM state machine', () => {
  it('allows only the legal transitions', () => {
    expect(canDo('created', 'start')).toBe(true);
    expect(canDo('running', 'start')).toBe(false);
    expect(canDo('stopped', 'start')).toBe(false);
    expect(canDo('running', 'stop')).toBe(true);
    expect(canDo('created', 'stop')).toBe(false);
    expect(canDo('destroyed', 'destroy')).toBe(false);
    expect(canDo('running', 'replace')).toBe(false);
    expect(canDo('stopped', 'replace')).toBe(true);
    expect(isFinal('failed')).toBe(true);
    expect(isFinal('stopping')).toBe(false);
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
    expect((err as RpcError).message).toBe('vm "web" is running; start needs it to be created');
  });
});
