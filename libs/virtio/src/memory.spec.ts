import { describe, expect, it } from 'vitest';
import { FlatMemory, GuestMemoryError, checkRange, u64ToNumber } from './memory.js';

describe('FlatMemory', () => {
  const base = 0x8000_0000;

  it('reads back what was written, as copies', async () => {
    const m = new FlatMemory(base, 4096);
    await m.write(base + 10, Uint8Array.of(1, 2, 3));
    const got = await m.read(base + 9, 5);
    expect([...got]).toEqual([0, 1, 2, 3, 0]);
    got[1] = 99;
    expect(m.bytes[10]).toBe(1);
    expect(m.reads).toBe(1);
    expect(m.writes).toBe(1);
  });

  it('readv and writev: one call each, in the order given (later writes win), nothing done unless every range is RAM', async () => {
    const m = new FlatMemory(base, 4096);
    await m.writev([
      { addr: base + 8, data: Uint8Array.of(1, 2, 3) },
      { addr: base + 100, data: Uint8Array.of(9) },
      { addr: base + 9, data: Uint8Array.of(7) },
    ]);
    expect(m.writes).toBe(1);
    const got = await m.readv([
      { addr: base + 100, len: 1 },
      { addr: base + 8, len: 3 },
      { addr: base, len: 0 },
    ]);
    expect(got.map((b) => [...b])).toEqual([[9], [1, 7, 3], []]);
    expect(m.reads).toBe(1);
    const before = m.bytes.slice();
    const bad = m.writev([
      { addr: base, data: Uint8Array.of(0xff) },
      { addr: base + 4095, data: Uint8Array.of(1, 2) },
    ]);
    await expect(bad).rejects.toBeInstanceOf(GuestMemoryError);
    await expect(bad).rejects.toMatchObject({ addr: base + 4095, length: 2 });
    expect(m.bytes).toEqual(before);
    await expect(
      m.readv([
        { addr: base, len: 1 },
        { addr: base - 1, len: 1 },
      ]),
    ).rejects.toThrow(/0x7fffffff.*outside guest RAM/);
    expect([m.reads, m.writes]).toEqual([1, 1]);
  });

  it('rejects ranges outside RAM, naming them', async () => {
    const m = new FlatMemory(base, 4096);
    await expect(m.read(base - 1, 2)).rejects.toThrow(/0x7fffffff.*outside guest RAM/);
    await expect(m.read(base + 4095, 2)).rejects.toBeInstanceOf(GuestMemoryError);
    await expect(m.write(base + 4096, Uint8Array.of(1))).rejects.toThrow(/0x80001000/);
    await expect(m.read(base + 4096, 0)).resolves.toHaveLength(0); // an empty range at the end is inside
  });

  it('refuses addresses past 2^53 and addr+len overflow instead of wrapping', async () => {
    const m = new FlatMemory(0, 4096);
    await expect(m.read(2 ** 53, 1)).rejects.toThrow(/2\^53/);
    await expect(m.read(Number.MAX_SAFE_INTEGER, 2)).rejects.toThrow(/overflow/);
    await expect(m.read(-1, 1)).rejects.toBeInstanceOf(GuestMemoryError);
    await expect(m.read(0.5, 1)).rejects.toBeInstanceOf(GuestMemoryError);
    expect(() => checkRange(Number.MAX_SAFE_INTEGER - 1, 1)).not.toThrow();
  });

  it('turns 64-bit halves into numbers only when exact', () => {
    expect(u64ToNumber(0x1234, 0x1)).toBe(0x1_0000_1234);
    expect(u64ToNumber(0xffff_ffff, 0x1fffff)).toBe(Number.MAX_SAFE_INTEGER);
    expect(u64ToNumber(0, 0x200000)).toBeUndefined();
    expect(u64ToNumber(0xffff_ffff, 0xffff_ffff)).toBeUndefined();
  });
});
