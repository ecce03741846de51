import { describe, expect, it } from 'vitest';
import { Backoff, DEFAULT_RESTART_POLICY, checkRestartPolicy } from './restart-policy.js';

describe('restart backoff', () => {
  it('doubles from 0.5 s to 10 s while the service keeps dying young', () => {
    const b = new Backoff();
    expect(Array.from({ length: 8 }, () => b.delayAfter(100))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('starts again from 0.5 s once the service stayed up 30 s', () => {
    const b = new Backoff();
    for (let i = 0; i < 4; i++) b.delayAfter(1000);
    expect(b.delayAfter(DEFAULT_RESTART_POLICY.resetAfterMs - 1)).toBe(8000);
    expect(b.delayAfter(DEFAULT_RESTART_POLICY.resetAfterMs)).toBe(500);
    expect(b.delayAfter(10)).toBe(1000);
  });

  it('refuses a policy that makes no sense, naming the field', () => {
    expect(() => checkRestartPolicy({ initialMs: -1, maxMs: 10, resetAfterMs: 10 })).toThrow('restart policy initialMs -1: must be a number of ms >= 0');
    expect(() => checkRestartPolicy({ initialMs: 100, maxMs: 10, resetAfterMs: 10 })).toThrow('restart policy maxMs 10: must be >= initialMs 100');
  });
});
