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

export interface DmaSegment {
  addr: GuestPhysAddr;
  length: number;
  data?: Uint8Array;
}

export class Dma {
  private readBytes = 0;
  private writeBytes = 0;

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

  /** Device writes: every cached copy of the pages is recalled (Modified bytes merged),
   *  then the segments are applied in order, the caller holding the VM's lock: no fetch
   *  sees the memory between two of them (GuestMemory.writev's promise, virtio 1.2 §2.7.8). */
  async write(caller: string, segs: readonly DmaSegment[]): Promise<number> {
    const pages = this.check('write', caller, segs);
    await this.coherence.resolve(pages, -1, true);
    let n = 0;
    for (const s of segs) n += this.space.write(s.addr, s.data ?? new Uint8Array(0), `DMA write by "${caller}" of vm "${this.space.vmId}":`);
    this.dirty.markAll(pages);
    this.writeBytes += n;
    return n;
  }

  get counts(): { dmaReadBytes: number; dmaWriteBytes: number } {
    return { dmaReadBytes: this.readBytes, dmaWriteBytes: this.writeBytes };
  }
}
