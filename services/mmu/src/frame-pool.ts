// The host frame pool: every byte of guest RAM the mmu holds comes from here, so one
// number bounds the whole host's guest memory however much RAM the VMs were promised
// (overcommit: frames are taken on first touch, not when a VM is created).
//
// The pool only counts: where a frame's bytes live is the page store's business (a 4 KiB
// Buffer in memory, or a page of the VM's sparse backing file; see page-store.ts).
import { PAGE_SIZE } from '@splitvisor/platform';
import { mib } from './errors.js';

export type Frame = Buffer;

export class FramePool {
  private inUse = 0;
  private readonly byOwner = new Map<string, number>();

  /** @param capacity frames the host lends to all VMs together */
  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`pool capacity ${capacity} is not a positive number of frames`);
  }

  static ofMib(poolMib: number): FramePool {
    return new FramePool((poolMib * 1024 * 1024) / PAGE_SIZE);
  }

  get capacityBytes(): number {
    return this.capacity * PAGE_SIZE;
  }
  get used(): number {
    return this.inUse;
  }
  get available(): number {
    return this.capacity - this.inUse;
  }
  usedBy(owner: string): number {
    return this.byOwner.get(owner) ?? 0;
  }
  /** Owners holding at least one frame. */
  get owners(): number {
    return this.byOwner.size;
  }

  /** `n` zeroed frames for `owner`, all or none: undefined when the pool cannot give them
   *  all, so a caller never holds half of what it needed. */
  allocate(owner: string, n: number): Frame[] | undefined {
    if (!this.reserve(owner, n)) return undefined;
    const frames: Frame[] = [];
    for (let i = 0; i < n; i++) frames.push(Buffer.alloc(PAGE_SIZE));
    return frames;
  }

  /** Counts `n` frames as `owner`'s without handing out memory (the bytes live in a
   *  backing file); false, with nothing counted, when the pool cannot give them all. */
  reserve(owner: string, n: number): boolean {
    if (n > this.available) return false;
    this.inUse += n;
    if (n > 0) this.byOwner.set(owner, this.usedBy(owner) + n);
    return true;
  }

  /** Gives `n` of `owner`'s frames back. The caller drops its references; the bytes go
   *  back to the host with them. */
  release(owner: string, n: number): void {
    const held = this.usedBy(owner);
    if (n > held) throw new RangeError(`${owner} releases ${n} frames but holds ${held}`);
    this.inUse -= n;
    if (held === n) this.byOwner.delete(owner);
    else this.byOwner.set(owner, held - n);
  }

  describe(): string {
    return `${this.capacity} frames (${mib(this.capacityBytes)})`;
  }
}
