// The host frame pool: every byte of guest RAM the mmu holds comes from here, so one
// number bounds the whole host's guest memory.
//
// Admission control (issue 11, item 11): a VM's RAM is reserved whole when it is created,
// and frames are then taken on first touch from its own reservation. The reservations
// together never exceed the pool, so one guest touching all its RAM can never make another
// VM's next page fetch fail mid-run: a VM that does not fit is refused at create, with an
// error, instead. An owner without a reservation (a unit test's address space) draws on
// what no reservation holds.
//
// The pool only counts: where a frame's bytes live is the page store's business (a 4 KiB
// Buffer in memory, or a page of the VM's sparse backing file; see page-store.ts).
import { PAGE_SIZE } from '@splitvisor/platform';
import { mib } from './errors.js';

export type Frame = Buffer;

interface Owner {
  /** Frames held now. */
  used: number;
  /** Frames promised to it at create, whether held yet or not. */
  reserved: number;
}

/** What an owner takes out of the pool: its reservation, or more if it holds more. */
const committed = (o: Owner) => Math.max(o.used, o.reserved);

export class FramePool {
  private inUse = 0;
  /** Σ committed over owners: what no one else may have. */
  private committedTotal = 0;
  private reservedTotal = 0;
  private readonly byOwner = new Map<string, Owner>();

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
  /** Frames held by owners now. */
  get used(): number {
    return this.inUse;
  }
  /** Frames neither held nor promised: what a new reservation, or an owner beyond its own,
   *  may still take. */
  get available(): number {
    return this.capacity - this.committedTotal;
  }
  /** Frames promised by reservations, held yet or not. */
  get reserved(): number {
    return this.reservedTotal;
  }
  /** Owners holding a reservation. */
  get reservations(): number {
    let n = 0;
    for (const o of this.byOwner.values()) if (o.reserved > 0) n++;
    return n;
  }
  usedBy(owner: string): number {
    return this.byOwner.get(owner)?.used ?? 0;
  }
  reservedBy(owner: string): number {
    return this.byOwner.get(owner)?.reserved ?? 0;
  }
  /** Owners holding at least one frame. */
  get owners(): number {
    let n = 0;
    for (const o of this.byOwner.values()) if (o.used > 0) n++;
    return n;
  }

  /** Sets `owner`'s change to `next` if what it commits then still fits; false, with
   *  nothing changed, if not. */
  private change(owner: string, next: Owner): boolean {
    const prev = this.byOwner.get(owner) ?? { used: 0, reserved: 0 };
    const delta = committed(next) - committed(prev);
    if (delta > this.available) return false;
    this.committedTotal += delta;
    this.inUse += next.used - prev.used;
    this.reservedTotal += next.reserved - prev.reserved;
    if (next.used === 0 && next.reserved === 0) this.byOwner.delete(owner);
    else this.byOwner.set(owner, next);
    return true;
  }

  /**
   * Promises `frames` to `owner` (its RAM, at create), replacing what it was promised
   * before; false, with nothing changed, when the pool cannot promise them. Reserving is
   * synchronous, so two creates can never both pass the check for the same frames.
   */
  reserveFor(owner: string, frames: number): boolean {
    if (!Number.isSafeInteger(frames) || frames < 0) throw new RangeError(`reservation of ${frames} frames for ${owner} is not a count of frames`);
    return this.change(owner, { used: this.usedBy(owner), reserved: frames });
  }

  /** Drops `owner`'s reservation (the frames it still holds stay counted until released). */
  unreserve(owner: string): void {
    const o = this.byOwner.get(owner);
    if (o) this.change(owner, { used: o.used, reserved: 0 });
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
   *  backing file); false, with nothing counted, when neither the owner's reservation nor
   *  the unpromised rest of the pool can give them all. */
  reserve(owner: string, n: number): boolean {
    const o = this.byOwner.get(owner) ?? { used: 0, reserved: 0 };
    return this.change(owner, { used: o.used + n, reserved: o.reserved });
  }

  /** Whether `owner` may hold `frames` in all (within its reservation, or beyond it from
   *  what no one holds or was promised). */
  canHold(owner: string, frames: number): boolean {
    const o = this.byOwner.get(owner) ?? { used: 0, reserved: 0 };
    return Math.max(frames, o.reserved) - committed(o) <= this.available;
  }

  /** Frames `owner` may still take: the rest of its reservation, then what no one holds. */
  roomFor(owner: string): number {
    const o = this.byOwner.get(owner) ?? { used: 0, reserved: 0 };
    return Math.max(0, o.reserved - o.used) + this.available;
  }

  /** Gives `n` of `owner`'s frames back. The caller drops its references; the bytes go
   *  back to the host with them. Its reservation stays. */
  release(owner: string, n: number): void {
    const o = this.byOwner.get(owner) ?? { used: 0, reserved: 0 };
    if (n > o.used) throw new RangeError(`${owner} releases ${n} frames but holds ${o.used}`);
    this.change(owner, { used: o.used - n, reserved: o.reserved });
  }

  describe(): string {
    return `${this.capacity} frames (${mib(this.capacityBytes)})`;
  }
}
