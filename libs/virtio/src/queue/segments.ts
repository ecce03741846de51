// Moving bytes between a chain's segments and the host: one memory call per segment, no
// copies where one segment holds everything.
import { GuestMemoryError, describeRange, type GuestMemory } from '../memory.js';
import { QueueError } from './queue-error.js';
import type { Segment } from './split-queue.js';

function outside(e: unknown, seg: Segment): unknown {
  return e instanceof GuestMemoryError ? new QueueError(`buffer of descriptor segment ${describeRange(seg.addr, seg.len)}: ${e.message}`) : e;
}

/** Concatenates the segments (at most `maxBytes` of them). A segment outside RAM is a QueueError. */
export async function readSegments(mem: GuestMemory, segs: readonly Segment[], maxBytes = Infinity): Promise<Uint8Array> {
  let total = 0;
  for (const s of segs) total += s.len;
  total = Math.min(total, maxBytes);
  if (segs.length === 1 || (segs.length > 0 && segs[0]!.len >= total)) {
    const s = segs[0]!;
    try {
      return await mem.read(s.addr, total);
    } catch (e) {
      throw outside(e, s);
    }
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const s of segs) {
    if (at >= total) break;
    const n = Math.min(s.len, total - at);
    try {
      out.set(await mem.read(s.addr, n), at);
    } catch (e) {
      throw outside(e, s);
    }
    at += n;
  }
  return out;
}

/** Writes `data` across the segments in order; returns how many bytes fit. */
export async function writeSegments(mem: GuestMemory, segs: readonly Segment[], data: Uint8Array): Promise<number> {
  let at = 0;
  for (const s of segs) {
    if (at >= data.length) break;
    const n = Math.min(s.len, data.length - at);
    try {
      await mem.write(s.addr, data.subarray(at, at + n));
    } catch (e) {
      throw outside(e, s);
    }
    at += n;
  }
  return at;
}

/** The part of `segs` that covers bytes [offset, offset + length) of their concatenation. */
export function sliceSegments(segs: readonly Segment[], offset: number, length = Infinity): Segment[] {
  const out: Segment[] = [];
  let skip = offset;
  let want = length;
  for (const s of segs) {
    if (want <= 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const len = Math.min(s.len - skip, want);
    out.push({ addr: s.addr + skip, len });
    want -= len;
    skip = 0;
  }
  return out;
}

export function segmentBytes(segs: readonly Segment[]): number {
  let n = 0;
  for (const s of segs) n += s.len;
  return n;
}
