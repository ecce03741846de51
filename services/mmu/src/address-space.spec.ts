import { describe, expect, it } from 'vitest';
import { DRAM_BASE, PAGE_SIZE, gpa } from '@splitvisor/platform';
import { AddressSpace, GUEST_PHYS_LIMIT, checkRamLayout } from './address-space.js';
import { MemError } from './errors.js';
import { FramePool } from './frame-pool.js';
import { PageBitmap } from './page-bitmap.js';

const MIB = 1024 * 1024;
const BASE_GFN = DRAM_BASE / PAGE_SIZE;

function space(ramMib = 64, poolFrames = 1024, limitPages?: number) {
  const pool = new FramePool(poolFrames);
  return { pool, s: new AddressSpace('vm-1', DRAM_BASE, ramMib * MIB, pool, { limitPages }) };
}

function page(fill: number): Buffer {
  return Buffer.alloc(PAGE_SIZE, fill);
}

/** The MemError `fn` throws, for checking its kind and message together. */
function memError(fn: () => unknown): { kind: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MemError);
    return { kind: (e as MemError).kind, message: (e as MemError).message };
  }
  throw new Error('expected a MemError');
}

describe('RAM layout', () => {
  it('accepts a page-aligned range inside 2^48', () => {
    expect(() => checkRamLayout(DRAM_BASE, 64 * MIB)).not.toThrow();
    expect(() => checkRamLayout(GUEST_PHYS_LIMIT - PAGE_SIZE, PAGE_SIZE)).not.toThrow();
  });

  it('names the field and the value when the range is wrong', () => {
    expect(memError(() => checkRamLayout(0x80000800, MIB))).toEqual({
      kind: 'invalid',
      message: 'ramBase 0x80000800 is not page-aligned (4096)',
    });
    expect(memError(() => checkRamLayout(DRAM_BASE, 0x1800)).message).toBe('ramSize 0x1800 is not page-aligned (4096)');
    expect(memError(() => checkRamLayout(DRAM_BASE, 0)).message).toBe('ramSize must be greater than 0');
    expect(memError(() => checkRamLayout(-4096, MIB)).message).toBe('ramBase -4096 is not an address');
    expect(memError(() => checkRamLayout(GUEST_PHYS_LIMIT - PAGE_SIZE, 2 * PAGE_SIZE)).message).toBe(
      'RAM [0xfffffffff000, 0x1000000001000) ends above the 48-bit guest-physical space (0x1000000000000)',
    );
  });
});

describe('AddressSpace', () => {
  it('takes no frame until a page is written', () => {
    const { pool, s } = space();
    expect(s.pageCount).toBe(16384);
    expect(s.limitPages).toBe(16384);
    expect(s.describeRam()).toBe('RAM [0x80000000, 0x84000000)');
    expect(pool.used).toBe(0);
    expect(s.stats()).toEqual({ residentPages: 0, firstTouchFaults: 0, fetches: 0, writeBacks: 0, limitPages: 16384 });
  });

  it('writes across page boundaries, taking a frame per page on first touch', () => {
    const { pool, s } = space();
    const data = Buffer.from(Array.from({ length: 3 * PAGE_SIZE }, (_, i) => (i * 7) & 0xff));
    expect(s.write(gpa(DRAM_BASE + 100), data)).toBe(data.length);
    expect(s.residentPages).toBe(4); // bytes 100 .. 100+3 pages span four pages
    expect(pool.usedBy('vm-1')).toBe(4);
    expect(s.read(gpa(DRAM_BASE + 100), data.length)).toEqual(data);
    expect(s.read(DRAM_BASE, 100)).toEqual(Buffer.alloc(100));
    // Writing again where frames exist takes no more.
    s.write(gpa(DRAM_BASE + 200), Buffer.from('hello'));
    expect(s.residentPages).toBe(4);
    expect(s.read(gpa(DRAM_BASE + 200), 5).toString()).toBe('hello');
  });

  it('grants a never-written page as zero, with no bytes and no frame', () => {
    const { pool, s } = space();
    s.write(gpa(DRAM_BASE + PAGE_SIZE), page(0xaa));
    const pages = s.fetch(BASE_GFN, 3);
    expect(pages).toEqual([
      { gfn: BASE_GFN, zero: true },
      { gfn: BASE_GFN + 1, zero: false, data: page(0xaa) },
      { gfn: BASE_GFN + 2, zero: true },
    ]);
    expect(pool.used).toBe(1);
  });

  it('counts fetches per page and a first-touch fault only the first time a page is fetched', () => {
    const { s } = space();
    s.fetch(BASE_GFN, 4);
    s.fetch(BASE_GFN + 2, 4, true);
    expect(s.stats()).toMatchObject({ fetches: 8, firstTouchFaults: 6, residentPages: 0 });
  });

  it('hands out copies: changing a fetched page does not change guest RAM', () => {
    const { s } = space();
    s.write(DRAM_BASE, page(1));
    const [p] = s.fetch(BASE_GFN, 1);
    if (!p || !('data' in p)) throw new Error('expected bytes');
    p.data.fill(9);
    expect(s.read(DRAM_BASE, 1)[0]).toBe(1);
  });

  it('refuses a fetch count outside 1..256 and a page outside RAM, naming the address', () => {
    const { s } = space();
    expect(memError(() => s.fetch(BASE_GFN, 0))).toEqual({ kind: 'invalid', message: 'fetch count 0 must be between 1 and 256' });
    expect(memError(() => s.fetch(BASE_GFN, 257)).message).toBe('fetch count 257 must be between 1 and 256');
    expect(memError(() => s.fetch(BASE_GFN - 1, 1)).message).toBe('fetch of page at 0x7ffff000 (gfn 0x7ffff) lies outside RAM [0x80000000, 0x84000000)');
    // A run that starts inside and ends outside names its first page outside.
    expect(memError(() => s.fetch(BASE_GFN + 16383, 2)).message).toBe('fetch of page at 0x84000000 (gfn 0x84000) lies outside RAM [0x80000000, 0x84000000)');
    expect(s.stats().fetches).toBe(0);
  });

  it('refuses a write that strays outside RAM by one byte, naming both ranges', () => {
    const { pool, s } = space();
    expect(memError(() => s.write(gpa(DRAM_BASE - PAGE_SIZE), Buffer.alloc(2 * PAGE_SIZE), 'image chunk'))).toEqual({
      kind: 'invalid',
      message: 'image chunk [0x7ffff000, 0x80001000) lies outside RAM [0x80000000, 0x84000000)',
    });
    expect(memError(() => s.write(gpa(0x83ffffff), Buffer.alloc(2))).message).toBe('write [0x83ffffff, 0x84000001) lies outside RAM [0x80000000, 0x84000000)');
    expect(s.write(gpa(0x83ffffff), Buffer.alloc(1))).toBe(1);
    expect(s.write(gpa(0), Buffer.alloc(0))).toBe(0); // no byte, no range
    expect(pool.used).toBe(1);
  });

  it('writes back whole pages, and a zero page frees its frame', () => {
    const { pool, s } = space();
    s.writeBack([
      { gfn: BASE_GFN, data: page(1) },
      { gfn: BASE_GFN + 5, data: page(5) },
    ]);
    expect(pool.used).toBe(2);
    expect(s.fetch(BASE_GFN + 5, 1)).toEqual([{ gfn: BASE_GFN + 5, zero: false, data: page(5) }]);
    s.writeBack([{ gfn: BASE_GFN + 5, zero: true, data: Buffer.alloc(0) }]);
    expect(pool.used).toBe(1);
    expect(s.fetch(BASE_GFN + 5, 1)).toEqual([{ gfn: BASE_GFN + 5, zero: true }]);
    expect(s.stats()).toMatchObject({ residentPages: 1, writeBacks: 3 });
  });

  it('refuses a whole write-back when one page is wrong, changing nothing', () => {
    const { pool, s } = space();
    const good = { gfn: BASE_GFN, data: page(1) };
    expect(memError(() => s.writeBack([good, { gfn: BASE_GFN + 1, data: Buffer.alloc(100) }]))).toEqual({
      kind: 'invalid',
      message: 'write-back of page at 0x80001000 carries 100 bytes; a page is exactly 4096',
    });
    expect(memError(() => s.writeBack([good, { gfn: BASE_GFN + 1, zero: true, data: page(0) }])).message).toBe(
      'write-back of page at 0x80001000 is marked zero but carries 4096 bytes',
    );
    expect(memError(() => s.writeBack([good, { gfn: 0x84000, data: page(0) }])).message).toBe(
      'write-back of page at 0x84000000 (gfn 0x84000) lies outside RAM [0x80000000, 0x84000000)',
    );
    expect(pool.used).toBe(0);
    expect(s.stats().writeBacks).toBe(0);
  });

  it('fails on an exhausted pool naming the VM and the pool size, all or nothing', () => {
    const { pool, s } = space(64, 4);
    s.write(DRAM_BASE, Buffer.alloc(3 * PAGE_SIZE, 1));
    expect(memError(() => s.writeBack([BASE_GFN + 10, BASE_GFN + 11].map((gfn) => ({ gfn, data: page(2) }))))).toEqual({
      kind: 'exhausted',
      message: 'host pool exhausted: vm "vm-1" needs 2 new frames but 1 of the pool\'s 4 frames (0.016 MiB) are free',
    });
    expect(s.residentPages).toBe(3);
    // Frames the same call gives back count as free.
    s.writeBack([
      { gfn: BASE_GFN, zero: true },
      { gfn: BASE_GFN + 10, data: page(2) },
      { gfn: BASE_GFN + 11, data: page(3) },
    ]);
    expect(pool.available).toBe(0);
    expect(s.read(DRAM_BASE, 1)[0]).toBe(0);
    expect(s.read(gpa(DRAM_BASE + 11 * PAGE_SIZE), 1)[0]).toBe(3);
    expect(memError(() => s.write(gpa(DRAM_BASE + 20 * PAGE_SIZE), Buffer.alloc(1))).kind).toBe('exhausted');
  });

  it('holds a VM to its own limit even when the pool has room', () => {
    const { pool, s } = space(64, 1024, 2);
    expect(s.stats().limitPages).toBe(2);
    s.writeBack([{ gfn: BASE_GFN, data: page(1) }]);
    expect(memError(() => s.write(gpa(DRAM_BASE + PAGE_SIZE), Buffer.alloc(2 * PAGE_SIZE)))).toEqual({
      kind: 'exhausted',
      message: 'vm "vm-1" would hold 3 pages, over its limit of 2',
    });
    expect(pool.used).toBe(1);
  });

  it('lets the last entry win when a write-back names a page twice', () => {
    const { pool, s } = space();
    s.writeBack([
      { gfn: BASE_GFN, data: page(1) },
      { gfn: BASE_GFN, data: page(2) },
      { gfn: BASE_GFN + 1, data: page(1) },
      { gfn: BASE_GFN + 1, zero: true },
    ]);
    expect(pool.used).toBe(1);
    expect(s.read(DRAM_BASE, 1)[0]).toBe(2);
  });

  it('gives every frame back on release and refuses calls afterwards', () => {
    const { pool, s } = space();
    s.write(DRAM_BASE, Buffer.alloc(5 * PAGE_SIZE, 1));
    expect(s.release()).toBe(5);
    expect(pool.used).toBe(0);
    expect(pool.usedBy('vm-1')).toBe(0);
    expect(s.release()).toBe(0);
    expect(memError(() => s.fetch(BASE_GFN, 1))).toEqual({ kind: 'not-found', message: 'vm "vm-1" was released' });
    expect(memError(() => s.write(DRAM_BASE, Buffer.alloc(1))).kind).toBe('not-found');
    expect(pool.used).toBe(0);
  });
});

describe('PageBitmap', () => {
  it('sets each bit once, across pieces, and clears', () => {
    const b = new PageBitmap(100_000);
    expect(b.set(0)).toBe(true);
    expect(b.set(0)).toBe(false);
    expect(b.set(99_999)).toBe(true);
    expect(b.has(99_999)).toBe(true);
    expect(b.has(50_000)).toBe(false);
    expect(b.count).toBe(2);
    expect(() => b.set(100_000)).toThrow(RangeError);
    b.clearAll();
    expect(b.has(0)).toBe(false);
    expect(b.count).toBe(0);
  });
});
