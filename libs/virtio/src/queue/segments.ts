// Moving bytes between a chain's segments and the host: one memory call for all of them, no
// copies where one segment holds everything.
import { GuestMemoryError, describeRange, type GuestMemory, type GuestWrite } from '../memory.js';
import { QueueError } from './queue-error.js';
import type { Segment } from './split-queue.js';

function outside(e: unknown, seg: Segment): unknown {
  return e instanceof GuestMemoryError ? new QueueError(`buffer of descriptor segment ${describeRange(seg.addr, seg.len)}: ${e.message}`) : e;
}

/** Concatenates the segments (at most `maxBytes` of them) read in one memory call. A
 *  segment outside RAM is a QueueError. */
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
  const parts = sliceSegments(segs, 0, total);
  let got: Uint8Array[];
  try {
    got = await mem.readv(parts);
  } catch (e) {
    throw outside(e, culprit(e, parts));
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of got) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** `data` cut along the segments, as writes (no memory call), and how many bytes fit. */
export function segmentWrites(segs: readonly Segment[], data: Uint8Array): { writes: GuestWrite[]; written: number } {
  const writes: GuestWrite[] = [];
  let at = 0;
  for (const s of segs) {
    if (at >= data.length) break;
    const n = Math.min(s.len, data.length - at);
    writes.push({ addr: s.addr, data: data.subarray(at, at + n) });
    at += n;
  }
  return { writes, written: at };
}

/** Writes `data` across the segments in order, in one memory call; returns how many bytes fit. */
export async function writeSegments(mem: GuestMemory, segs: readonly Segment[], data: Uint8Array): Promise<number> {
  const { writes, written } = segmentWrites(segs, data);
  if (writes.length === 0) return 0;
  try {
    if (writes.length === 1) await mem.write(writes[0]!.addr, writes[0]!.data);
    else await mem.writev(writes);
  } catch (e) {
    throw outside(
      e,
      culprit(
        e,
        writes.map((w) => ({ addr: w.addr, len: w.data.length })),
      ),
    );
  }
  return written;
}

/** The segment a GuestMemoryError names, else the first. */
function culprit(e: unknown, segs: readonly Segment[]): Segment {
  return (e instanceof GuestMemoryError && segs.find((s) => s.addr === e.addr && s.len === e.length)) || segs[0]!;
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
