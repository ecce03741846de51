import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '@splitvisor/platform';
import { FramePool } from './frame-pool.js';

describe('FramePool', () => {
  it('sizes itself from MiB and describes itself', () => {
    const pool = FramePool.ofMib(2);
    expect(pool.capacity).toBe(512);
    expect(pool.capacityBytes).toBe(2 * 1024 * 1024);
    expect(pool.describe()).toBe('512 frames (2 MiB)');
    expect(() => new FramePool(0)).toThrow(/not a positive number of frames/);
  });

  it('hands out zeroed 4 KiB frames and counts them per owner', () => {
    const pool = new FramePool(8);
    const a = pool.allocate('a', 3)!;
    const b = pool.allocate('b', 2)!;
    expect(a).toHaveLength(3);
    expect(a.every((f) => f.length === PAGE_SIZE && f.every((x) => x === 0))).toBe(true);
    expect(new Set([...a, ...b].map((f) => f.buffer)).size).toBe(5); // no shared backing store
    expect(pool.used).toBe(5);
    expect(pool.available).toBe(3);
    expect(pool.usedBy('a')).toBe(3);
    expect(pool.usedBy('b')).toBe(2);
    expect(pool.owners).toBe(2);
  });

  it('gives all or nothing when the pool runs short', () => {
    const pool = new FramePool(4);
    expect(pool.allocate('a', 3)).toHaveLength(3);
    expect(pool.allocate('b', 2)).toBeUndefined();
    expect(pool.used).toBe(3);
    expect(pool.usedBy('b')).toBe(0);
    expect(pool.allocate('b', 1)).toHaveLength(1);
    expect(pool.available).toBe(0);
  });

  it('takes frames back and forgets an owner holding none', () => {
    const pool = new FramePool(4);
    pool.allocate('a', 4);
    pool.release('a', 1);
    expect(pool.usedBy('a')).toBe(3);
    pool.release('a', 3);
    expect(pool.usedBy('a')).toBe(0);
    expect(pool.owners).toBe(0);
    expect(pool.available).toBe(4);
    expect(() => pool.release('a', 1)).toThrow('a releases 1 frames but holds 0');
  });
});

describe('FramePool reservations', () => {
  it("promises frames at reserve time: what is promised is no one else's, and its owner always gets it", () => {
    const pool = new FramePool(8);
    expect(pool.reserveFor('a', 5)).toBe(true);
    expect(pool.reserveFor('b', 4)).toBe(false); // 3 left
    expect(pool.reservedBy('b')).toBe(0);
    expect(pool.reserveFor('b', 3)).toBe(true);
    expect(pool.available).toBe(0);
    expect(pool.allocate('a', 5)).toHaveLength(5);
    expect(pool.allocate('b', 3)).toHaveLength(3);
    expect(pool.allocate('b', 1)).toBeUndefined(); // beyond its own, and nothing unpromised
    expect(pool.canHold('a', 5)).toBe(true);
    expect(pool.canHold('a', 6)).toBe(false);
    expect({ used: pool.used, reserved: pool.reserved, reservations: pool.reservations }).toEqual({ used: 8, reserved: 8, reservations: 2 });
  });

  it('frees a reservation only when its owner drops it, and counts what an owner holds beyond it', () => {
    const pool = new FramePool(8);
    pool.reserveFor('a', 4);
    pool.allocate('a', 4);
    pool.release('a', 4);
    expect(pool.available).toBe(4); // released frames stay a's to take again
    expect(pool.allocate('x', 5)).toBeUndefined();
    pool.unreserve('a');
    expect(pool.available).toBe(8);
    expect(pool.allocate('x', 5)).toHaveLength(5); // an owner with no reservation draws on the rest
    expect(pool.reserveFor('a', 4)).toBe(false);
    expect(pool.reserveFor('x', 6)).toBe(true); // its 5 held count within its new reservation
    expect(pool.available).toBe(2);
    expect(() => pool.reserveFor('x', -1)).toThrow('reservation of -1 frames for x is not a count of frames');
  });
});
