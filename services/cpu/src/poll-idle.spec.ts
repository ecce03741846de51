import { describe, expect, it } from 'vitest';
import { PollDetector } from './poll-idle.js';

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const LSR = 0x1000_0005;

describe('PollDetector', () => {
  it('takes `reads` unchanged reads of one register within the window for a loop, then starts again', () => {
    const c = clock();
    const d = new PollDetector({ reads: 4, windowMs: 1, now: c.now });
    const seen = [];
    for (let i = 0; i < 8; i++) {
      seen.push(d.read(LSR, 0x60, 0));
      c.advance(0.1);
    }
    expect(seen).toEqual([false, false, false, true, false, false, false, true]);
  });

  it('is no loop when the reads are spread wider than the window (a guest computing between looks)', () => {
    const c = clock();
    const d = new PollDetector({ reads: 4, windowMs: 1, now: c.now });
    const seen = [];
    for (let i = 0; i < 8; i++) {
      seen.push(d.read(LSR, 0x60, 0));
      c.advance(0.5);
    }
    expect(seen).not.toContain(true);
  });

  it('a changed value, another register or a reset ends the streak', () => {
    const c = clock();
    const d = new PollDetector({ reads: 3, windowMs: 1, now: c.now });
    expect([d.read(LSR, 0x60, 0), d.read(LSR, 0x60, 0)]).toEqual([false, false]);
    expect(d.read(LSR, 0x61, 0)).toBe(false); // data ready: a new streak of one
    expect(d.read(LSR, 0x61, 0)).toBe(false);
    expect(d.read(LSR - 4, 0x61, 0)).toBe(false); // another register
    expect(d.read(LSR - 4, 0x61, 0)).toBe(false);
    d.reset(); // an exit or a device store between two reads
    expect(d.read(LSR - 4, 0x61, 0)).toBe(false);
    expect(d.read(LSR - 4, 0x61, 0)).toBe(false);
    expect(d.read(LSR - 4, 0x61, 0)).toBe(true);
    expect(d.read(LSR - 4, 0x61, 1)).toBe(false); // the high word counts too
  });

  it('says whether the loop read the guest clock during its streak (unknown counts as read)', () => {
    const c = clock();
    const d = new PollDetector({ reads: 4, windowMs: 1, now: c.now });
    const loop = (clockAt: (i: number) => number | undefined) => {
      let found = false;
      for (let i = 0; i < 4; i++) found = d.read(LSR, 0x60, 0, clockAt(i));
      return found;
    };
    expect(loop(() => 7)).toBe(true);
    expect(d.loopReadClock).toBe(false);
    expect(loop((i) => 7 + i)).toBe(true); // a rdtime every turn
    expect(d.loopReadClock).toBe(true);
    expect(loop((i) => (i === 3 ? 9 : 8))).toBe(true); // once, at the end
    expect(d.loopReadClock).toBe(true);
    expect(loop(() => undefined)).toBe(true);
    expect(d.loopReadClock).toBe(true);
  });

  it('refuses settings that could never or would always see a loop', () => {
    expect(() => new PollDetector({ reads: 1 })).toThrow(/reads=1/);
    expect(() => new PollDetector({ windowMs: 0 })).toThrow(/windowMs=0/);
    expect(() => new PollDetector({ reads: Number.NaN })).toThrow(/reads=NaN/);
  });
});
