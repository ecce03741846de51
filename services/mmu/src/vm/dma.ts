// Device DMA as an IOMMU does it: the caller must be a backend attached to this VM, the
// range must be the VM's RAM, and the bytes moved must be coherent with the page caches
// (a Modified copy is recalled before a device reads, every copy before it writes).
import { hex, type GuestPhysAddr } from '@splitvisor/platform';
import type { AddressSpace } from '../address-space.js';
import { denied, invalid } from '../errors.js';
import { pagesOf, type Coherence } from './coherence.js';
import type { DirtyLog } from './dirty-log.js';
import type { Roster } from './roster.js';

/** Most bytes one DMA call may move. */
export const MAX_DMA_BYTES = 16 * 1024 * 1024;
/** Most segments one DMA call may carry (a virtqueue chain is at most a queue's size, 1024,
 *  plus the used element and index). */
export const MAX_DMA_SEGMENTS = 4096;
/** Writes remembered by (caller, write id), for repeats: far more than a caller has in
 *  flight (a virtio device has one completion per queue at a time). */
const WRITES_REMEMBERED = 1024;
/** A device write of at most this many bytes updates the holders' copies (Coherence.update)
 *  rather than taking them away: a received frame with its used entry (~1.5 KiB) is well
 *  under it; a disk read of many pages is over it, and pages it fills are fetched when the
 *  guest gets to them, in runs. */
export const UPDATE_MAX_BYTES = 64 * 1024;

export interface DmaSegment {
  addr: GuestPhysAddr;
  length: number;
  data?: Uint8Array;
}

export class Dma {
  private readBytes = 0;
  private writeBytes = 0;
  /** `${caller} ${writeId}` of the latest writes applied, oldest first, with their byte counts. */
  private readonly applied = new Map<string, number>();
  private repeats = 0;

  constructor(
    private readonly space: AddressSpace,
    private readonly roster: Roster,
    private readonly coherence: Coherence,
    private readonly dirty: DirtyLog,
  ) {}

  /** Checks identity, attachment and ranges; the page indexes the segments cover. */
  check(op: 'read' | 'write', caller: string, segs: readonly DmaSegment[]): Set<number> {
    const vmId = this.space.vmId;
    this.space.assertLive();
    const lens = segs.map((s) => (op === 'write' ? (s.data?.length ?? 0) : s.length));
    const first = segs[0];
    const what = first
      ? `DMA ${op} of vm "${vmId}" [${hex(first.addr)}, ${hex(first.addr + lens[0]!)})${segs.length > 1 ? ` and ${segs.length - 1} more segment(s)` : ''}`
      : `DMA ${op} of vm "${vmId}"`;
    if (!caller) throw denied(`${what} refused: the call names no caller (metadata x-splitvisor-caller)`);
    if (!this.roster.isAttached(caller)) {
      throw denied(`${what} refused: caller "${caller.slice(0, 80)}" is not a device backend attached to vm "${vmId}"`);
    }
    // The limits first, from the lengths alone: a call over them is refused before a single
    // page is walked (a thousand segments each spanning all of RAM would otherwise cost a
    // thousand walks of it before the refusal).
    if (segs.length > MAX_DMA_SEGMENTS) throw invalid(`${what} has ${segs.length} segments; one call carries at most ${MAX_DMA_SEGMENTS}`);
    let total = 0;
    for (const len of lens) total += len;
    if (total > MAX_DMA_BYTES) throw invalid(`${what} moves ${total} bytes; one call moves at most ${MAX_DMA_BYTES}`);
    const pages = new Set<number>();
    segs.forEach((s, k) => {
      const len = lens[k]!;
      if (len === 0) return;
      this.space.checkRange(s.addr, len, `DMA ${op} by "${caller}" of vm "${vmId}":`);
      for (const i of pagesOf(this.space, s.addr, len)) pages.add(i);
    });
    return pages;
  }

  /** Device reads: the newest bytes, recalled from a holder that has them Modified. The
   *  recalls go out in the order of the segments' pages (one order per holder), so a
   *  device that lists a virtqueue's avail ring before its descriptor table never gets a
   *  table older than the idx (virtio 1.2 §2.7.13.3); with one holder it is one order,
   *  answered at one safepoint: one instant of the guest. */
  async read(caller: string, segs: readonly DmaSegment[]): Promise<Buffer[]> {
    const pages = this.check('read', caller, segs);
    await this.coherence.resolve(pages, -1, false);
    const out = segs.map((s) => this.space.read(s.addr, s.length));
    for (const s of segs) this.readBytes += s.length;
    return out;
  }

  /** Device writes: every cached copy of the pages is updated with the bytes (a small
   *  write) or recalled (Modified bytes merged), then the segments are applied in order, the caller holding the VM's lock: no fetch
   *  sees the memory between two of them (GuestMemory.writev's promise, virtio 1.2 §2.7.8). */
  async write(caller: string, segs: readonly DmaSegment[], writeId = 0): Promise<number> {
    const pages = this.check('write', caller, segs);
    // A caller that lost the answer (its deadline, a dropped link) sends the write again
    // under the same id. Applying it twice is not harmless: between the two, the guest may
    // have seen the first (a used.idx), taken its buffers back and written to them, and the
    // repeat would put the old bytes back. Operations run one at a time (VmMemory), so the
    // repeat always comes after the first and finds it here.
    const key = writeId ? `${caller} ${writeId}` : undefined;
    const done = key === undefined ? undefined : this.applied.get(key);
    if (done !== undefined) {
      this.repeats++;
      return done;
    }
    let total = 0;
    for (const s of segs) total += s.data?.length ?? 0;
    if (total <= UPDATE_MAX_BYTES) {
      await this.coherence.update(
        pages,
        segs.map((s) => ({ addr: s.addr, data: s.data ?? new Uint8Array(0) })),
      );
    } else await this.coherence.resolve(pages, -1, true);
    let n = 0;
    for (const s of segs) n += this.space.write(s.addr, s.data ?? new Uint8Array(0), `DMA write by "${caller}" of vm "${this.space.vmId}":`);
    this.dirty.markAll(pages);
    this.writeBytes += n;
    if (key !== undefined) {
      this.applied.set(key, n);
      if (this.applied.size > WRITES_REMEMBERED) this.applied.delete(this.applied.keys().next().value!);
    }
    return n;
  }

  /** dmaWriteRepeats: writes sent again under an id already applied, answered without writing. */
  get counts(): { dmaReadBytes: number; dmaWriteBytes: number; dmaWriteRepeats: number } {
    return { dmaReadBytes: this.readBytes, dmaWriteBytes: this.writeBytes, dmaWriteRepeats: this.repeats };
  }
}
