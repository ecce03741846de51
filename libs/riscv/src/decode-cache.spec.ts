// The decode cache's store check: which stores into a page with decoded code drop it.
// Whole harts running self-modifying code are in memory.spec.ts and translate.spec.ts.

import { describe, expect, it } from 'vitest';
import { DecodeCache } from './decode-cache.js';

/** A cache of 4 pages with the page's block made and one instruction decoded. */
function cacheWith(off: number, len: number): DecodeCache {
  const c = new DecodeCache(4);
  c.block(Math.floor(off / 4096)).fill(7);
  c.decoded(off, len);
  return c;
}

describe('DecodeCache: a store drops a page only where code was decoded', () => {
  it('marks the page on decode and keeps it through stores to other 64-byte chunks of it', () => {
    const c = cacheWith(4096 + 8, 4);
    expect(c.mark[1]).toBe(1);
    for (const [off, len] of [
      [4096 + 64, 8],
      [4096 + 4095, 1],
      [4096 + 2048, 4],
    ] as const) {
      expect(c.stored(off, len), `store at ${off}`).toBe(false);
    }
    expect(c.mark[1]).toBe(1);
    expect(c.invalidations).toBe(0);
    expect(c.block(1)[0]).toBe(7);
  });

  it('drops the page for a store anywhere in the chunk of a decoded instruction, and forgets its chunks with it', () => {
    for (const at of [4096, 4096 + 8, 4096 + 63]) {
      const c = cacheWith(4096 + 8, 4);
      expect(c.stored(at, 1), `store at ${at}`).toBe(true);
      expect(c.mark[1]).toBe(0);
      expect(c.block(1).every((w) => w === 0)).toBe(true);
      expect(c.invalidations).toBe(1);
      // Nothing decoded any more: the same store again changes nothing.
      expect(c.stored(at, 1)).toBe(false);
      expect(c.invalidations).toBe(1);
    }
  });

  it('an instruction across a chunk boundary is in both chunks', () => {
    // 4 bytes at 62..65 of page 0: chunks 0 and 1.
    expect(cacheWith(62, 4).stored(64, 2)).toBe(true);
    expect(cacheWith(62, 4).stored(60, 2)).toBe(true);
    expect(cacheWith(62, 4).stored(128, 8)).toBe(false);
    // A compressed one at 62..63 is in chunk 0 alone.
    expect(cacheWith(62, 2).stored(64, 2)).toBe(false);
  });

  it('a misaligned store across a chunk boundary is checked in both chunks', () => {
    // Code in chunk 1 only; the store covers bytes 60..67 of chunks 0 and 1.
    expect(cacheWith(64, 4).stored(60, 8)).toBe(true);
    expect(cacheWith(0, 4).stored(60, 8)).toBe(true);
    expect(cacheWith(128, 4).stored(60, 8)).toBe(false);
  });

  it('FENCE.I (flushAll) forgets every chunk', () => {
    const c = cacheWith(4096 * 2 + 100, 4);
    c.flushAll();
    expect(c.mark[2]).toBe(0);
    expect(c.stored(4096 * 2 + 100, 4)).toBe(false);
  });
});
