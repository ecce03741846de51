import { describe, expect, it } from 'vitest';
import { CLINT_MTIME, CLINT_MTIMECMP, type MmioOffset } from '@splitvisor/platform';
import { Clint } from './clint.js';
import { hostClock, IcountClock } from './clock.js';

describe('IcountClock', () => {
  it('counts one tick per instructionsPerTick retired, and skips', () => {
    const c = new IcountClock(100);
    expect(c.now()).toBe(0);
    c.advance(99);
    expect(c.now()).toBe(0);
    c.advance(1);
    expect(c.now()).toBe(1);
    c.advance(250);
    expect(c.now()).toBe(3);
    c.skip(1000);
    expect(c.now()).toBe(1003);
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => new IcountClock(0)).toThrow(RangeError);
  });

  it('makes the timer deterministic: the interrupt comes at the same instruction every run', () => {
    const fired: number[] = [];
    for (let run = 0; run < 2; run++) {
      const clock = new IcountClock(10);
      let retired = 0;
      const clint = new Clint({ harts: 1, clock: clock.now, onIrq: (_h, _b, level) => level && fired.push(retired) });
      clint.write(CLINT_MTIMECMP as MmioOffset, 8, 123, 0);
      for (let batch = 0; batch < 300; batch++) {
        clock.advance(7);
        retired += 7;
        clint.tick();
      }
    }
    expect(fired).toEqual([1232, 1232]);
  });

  it('skip() to nextDeadline() wakes an idle hart exactly at its deadline', () => {
    const clock = new IcountClock();
    const levels: boolean[] = [];
    const clint = new Clint({ harts: 1, clock: clock.now, onIrq: (_h, _b, l) => levels.push(l) });
    clint.write(CLINT_MTIMECMP as MmioOffset, 8, 5_000, 0);
    clock.skip(clint.nextDeadline());
    clint.tick();
    expect(levels).toEqual([true]);
    const out = new Int32Array(2);
    clint.read(CLINT_MTIME as MmioOffset, 8, out);
    expect(out[0]).toBe(5_000);
  });
});

describe('hostClock', () => {
  it('runs at 10 MHz from its start point', async () => {
    const start = performance.now();
    const clock = hostClock(start);
    const a = clock();
    await new Promise((r) => setTimeout(r, 30));
    const b = clock();
    const elapsedMs = performance.now() - start;
    expect(Number.isInteger(b)).toBe(true);
    expect(b).toBeGreaterThanOrEqual(a);
    // ~10,000 ticks per millisecond.
    expect(b).toBeGreaterThanOrEqual(25 * 10_000);
    expect(b).toBeLessThanOrEqual(Math.ceil(elapsedMs * 10_000));
  });

  it('starts near 0 by default', () => {
    expect(hostClock()()).toBeLessThan(10_000 * 50);
  });
});
