// The coherence directory of one VM: for every 4 KiB page, which page cache (a "holder":
// a vCPU's cache of guest RAM) has it and how. At most one holder has a page Modified (the
// only copy anyone may use); any number may have it Shared (read-only copies equal to
// mmu's bytes). This is the home node's directory of a directory-based MSI protocol
// (as DASH, or GiantVM's distributed shared memory), reduced to its data: deciding
// when to recall is vm/coherence.ts's job.
import { PageState, type PageStateValue } from '@splitvisor/platform';
import { invalid } from './errors.js';

/** Holders per VM: one bit each in a byte of sharers. */
export const MAX_HOLDERS = 8;

/** downgrade: another holder reads (the owner keeps a Shared copy); invalidate: someone
 *  writes; clean: a device reads (the owner sends its bytes and stays Modified: a device
 *  keeps no copy, so nothing makes the owner's copy unique but the directory). */
/** 'update': a device's few bytes go into the holder's copy, which it keeps (mmu.proto,
 *  RECALL_UPDATE); conflicts() never asks for it, Coherence.update chooses it. */
export type RecallMode = 'downgrade' | 'invalidate' | 'clean' | 'update';

/** What must happen at one holder before an access can go on. */
export interface Conflict {
  holder: number;
  mode: RecallMode;
}

export class Directory {
  private readonly names: string[] = [];
  /** Per page: holder index + 1 of the Modified holder, or 0. */
  private readonly owner: Uint8Array;
  /** Per page: bit h set when holder h has the page Shared. */
  private readonly sharers: Uint8Array;
  private modified = 0;
  private shared = 0;

  constructor(readonly pageCount: number) {
    this.owner = new Uint8Array(pageCount);
    this.sharers = new Uint8Array(pageCount);
  }

  /** The holder's index, registering the name on first use. */
  holder(name: string): number {
    const i = this.names.indexOf(name);
    if (i >= 0) return i;
    if (this.names.length >= MAX_HOLDERS) throw invalid(`holder "${name}": this VM already has ${MAX_HOLDERS} page caches`);
    this.names.push(name);
    return this.names.length - 1;
  }

  /** The index of a known holder, or -1. */
  find(name: string): number {
    return this.names.indexOf(name);
  }

  nameOf(h: number): string {
    return this.names[h]!;
  }

  get holders(): readonly string[] {
    return this.names;
  }

  /** Pages some holder has Modified / at least one holder has Shared. */
  get modifiedPages(): number {
    return this.modified;
  }
  get sharedPages(): number {
    return this.shared;
  }

  stateOf(i: number, h: number): PageStateValue {
    if (this.owner[i] === h + 1) return PageState.Modified;
    return (this.sharers[i]! & (1 << h)) !== 0 ? PageState.Shared : PageState.Invalid;
  }

  /** Holder index with page `i` Modified, or -1. */
  ownerOf(i: number): number {
    return this.owner[i]! - 1;
  }

  /** True when no holder has page `i` at all. */
  isFree(i: number): boolean {
    return this.owner[i] === 0 && this.sharers[i] === 0;
  }

  /**
   * What must be recalled before `h` (or a device: h = -1) reads or writes page `i`:
   * a read needs the Modified copy's bytes (a holder's read leaves the owner a Shared
   * copy, a device's leaves it Modified); a write needs every other copy gone, with the
   * Modified one's bytes.
   */
  conflicts(i: number, h: number, write: boolean, out: Conflict[] = []): Conflict[] {
    const o = this.owner[i]! - 1;
    if (o >= 0 && o !== h) out.push({ holder: o, mode: write ? 'invalidate' : h < 0 ? 'clean' : 'downgrade' });
    if (write) {
      let m = this.sharers[i]!;
      if (h >= 0) m &= ~(1 << h);
      for (let x = 0; m !== 0; x++, m >>= 1) if (m & 1) out.push({ holder: x, mode: 'invalidate' });
    }
    return out;
  }

  /** Records holder `h` now has page `i` in state `s`; the caller resolved conflicts. */
  set(i: number, h: number, s: PageStateValue): void {
    const bit = 1 << h;
    const wasOwner = this.owner[i] === h + 1;
    const beforeShared = this.sharers[i] !== 0;
    if (s === PageState.Modified) {
      if (!wasOwner) {
        if (this.owner[i] === 0) this.modified++;
        this.owner[i] = h + 1;
      }
      this.sharers[i] = 0;
    } else {
      if (wasOwner) {
        this.owner[i] = 0;
        this.modified--;
      }
      if (s === PageState.Shared) this.sharers[i]! |= bit;
      else this.sharers[i]! &= ~bit;
    }
    const afterShared = this.sharers[i] !== 0;
    if (beforeShared !== afterShared) this.shared += afterShared ? 1 : -1;
  }

  /** Forgets every page holder `h` has; the count of pages it had. */
  dropHolder(h: number): number {
    let n = 0;
    for (let i = 0; i < this.pageCount; i++) {
      if (this.stateOf(i, h) !== PageState.Invalid) {
        this.set(i, h, PageState.Invalid);
        n++;
      }
    }
    return n;
  }

  /** Pages holder `h` has Modified, ascending. */
  modifiedBy(h: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pageCount; i++) if (this.owner[i] === h + 1) out.push(i);
    return out;
  }

  /** Every page some holder has Modified, as [page, holder] pairs. */
  allModified(): [number, number][] {
    const out: [number, number][] = [];
    if (this.modified === 0) return out;
    for (let i = 0; i < this.pageCount; i++) if (this.owner[i] !== 0) out.push([i, this.owner[i]! - 1]);
    return out;
  }

  /** True when some holder has any page. */
  get anyHeld(): boolean {
    return this.modified > 0 || this.shared > 0;
  }

  clear(): void {
    this.owner.fill(0);
    this.sharers.fill(0);
    this.modified = 0;
    this.shared = 0;
  }
}
