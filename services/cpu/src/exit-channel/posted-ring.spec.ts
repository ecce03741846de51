import { describe, expect, it } from 'vitest';
import { UART0, virtioMmioSlot } from '@splitvisor/platform';
import { POSTED_BYTES, POSTED_CAPACITY, PostedKind, PostedRingReader, PostedRingWriter, QUEUE_NOTIFY, postedKindOf } from './posted-ring.js';

describe('which stores are posted', () => {
  it('coalesces only a 1-byte store at UART0 offset 0 (THR, or DLL under DLAB)', () => {
    expect(postedKindOf(UART0.base, 1)).toBe(PostedKind.Coalesced);
    expect(postedKindOf(UART0.base, 2)).toBe(-1);
    expect(postedKindOf(UART0.base + 1, 1)).toBe(-1); // IER: changes what IIR reads
    expect(postedKindOf(UART0.base + 3, 1)).toBe(-1); // LCR
  });

  it('makes a doorbell of a 4-byte QueueNotify store in any of the eight virtio-mmio slots', () => {
    for (const i of [0, 3, 7]) expect(postedKindOf(virtioMmioSlot(i).base + QUEUE_NOTIFY, 4)).toBe(PostedKind.Doorbell);
    expect(postedKindOf(virtioMmioSlot(0).base + QUEUE_NOTIFY, 2)).toBe(-1);
    expect(postedKindOf(virtioMmioSlot(0).base + 0x070, 4)).toBe(-1); // Status: the driver reads it back
    expect(postedKindOf(virtioMmioSlot(7).base + 0x1000 + QUEUE_NOTIFY, 4)).toBe(-1); // past the last slot
  });
});

describe('the posted ring', () => {
  it('hands the host every entry in order, and refuses when full until the host takes them', () => {
    const buf = new SharedArrayBuffer(POSTED_BYTES);
    const w = new PostedRingWriter(buf);
    const r = new PostedRingReader(buf);
    for (let i = 0; i < POSTED_CAPACITY; i++) expect(w.post(PostedKind.Coalesced, UART0.base, 1, i & 0xff, 0)).toBe(true);
    expect(w.post(PostedKind.Coalesced, UART0.base, 1, 0x41, 0)).toBe(false);
    expect(w.pending).toBe(POSTED_CAPACITY);
    const got = r.take();
    expect(got.map((e) => e.lo)).toEqual(Array.from({ length: POSTED_CAPACITY }, (_, i) => i & 0xff));
    expect(w.pending).toBe(0);
    expect(w.post(PostedKind.Doorbell, 0x10008050, 4, 1, 0)).toBe(true);
    expect(r.take()).toEqual([{ kind: PostedKind.Doorbell, addr: 0x10008050, size: 4, lo: 1, hi: 0 }]);
  });

  it('keeps order across the wrap of its 32-bit counters', () => {
    const buf = new SharedArrayBuffer(POSTED_BYTES);
    const words = new Int32Array(buf);
    words[0] = words[1] = 0x7ffffffe; // HEAD = TAIL, two entries short of the int32 wrap
    const w = new PostedRingWriter(buf);
    const r = new PostedRingReader(buf);
    for (let i = 0; i < 5; i++) w.post(PostedKind.Coalesced, UART0.base, 1, i, -1);
    expect(w.pending).toBe(5);
    expect(r.take().map((e) => [e.lo, e.hi])).toEqual([0, 1, 2, 3, 4].map((i) => [i, -1]));
    expect(r.pending).toBe(0);
  });
});
