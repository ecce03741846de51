// Dirty logging (KVM_GET_DIRTY_LOG): pages written since the log was last cleared, by
// anyone: a holder granted a page for write, a device, a write-back, an image load.
import { PageBitmap } from '../page-bitmap.js';
import { precondition } from '../errors.js';

export class DirtyLog {
  private bits: PageBitmap | undefined;

  constructor(
    private readonly pageCount: number,
    private readonly vmId: string,
  ) {}

  get on(): boolean {
    return this.bits !== undefined;
  }

  /** Starts logging; pages already held Modified may be written at any moment without
   *  asking, so they start dirty. */
  start(heldModified: () => Iterable<number>): void {
    if (this.bits) return;
    this.bits = new PageBitmap(this.pageCount);
    for (const i of heldModified()) this.bits.set(i);
  }

  stop(): void {
    this.bits = undefined;
  }

  /** Page index `i` was written (nothing when logging is off). */
  mark(i: number): void {
    this.bits?.set(i);
  }

  markAll(pages: Iterable<number>): void {
    if (this.bits) for (const i of pages) this.bits.set(i);
  }

  /** The bitmap; with `clear`, read and clear in one step, after `beforeClear` made sure
   *  no write after this call goes unseen (holders' writable copies downgraded: KVM
   *  write-protects pages on the same call for the same reason). */
  async read(clear: boolean, beforeClear: () => Promise<void>): Promise<{ bitmap: Buffer; dirty: number }> {
    const bits = this.bits;
    if (!bits) throw precondition(`dirty logging is off for vm "${this.vmId}" (StartDirtyLog first)`);
    if (clear) await beforeClear();
    const out = { bitmap: bits.toBytes(), dirty: bits.count };
    if (clear) bits.clearAll();
    return out;
  }
}
