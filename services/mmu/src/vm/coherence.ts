// The directory protocol at the home node: before anyone reads or writes a page, whatever
// stands in the way is recalled (DESIGN.md, "mmu"); then the directory records who holds
// what. The Directory is the data, this is when to recall and what a grant, a write-back
// or a re-registration does to it. The caller (VmMemory) runs each operation alone.
import { PAGE_SIZE, PageState, hex, type GuestPhysAddr } from '@splitvisor/platform';
import type { AddressSpace, FetchedPage, PageWrite } from '../address-space.js';
import { Directory, type RecallMode } from '../directory.js';
import { unavailable } from '../errors.js';
import type { DirtyLog } from './dirty-log.js';
import { RECALL_RUN, type PageUpdate, type Recalls } from './recalls.js';
import type { Roster } from './roster.js';

export interface FetchGrant {
  pages: FetchedPage[];
  grant: number;
  epoch: string;
}

export interface WriteBackOptions {
  /** The holder keeps a clean Shared copy of the pages it wrote back. */
  keepShared?: boolean;
  /** Afterwards the holder holds nothing (it stopped). */
  releaseAll?: boolean;
  /** The epoch the holder last saw; another one means mmu restarted under it. */
  epoch?: string;
}

/** A page handed back; `keep` ones come back clean, without bytes. */
export type ReturnedPage = PageWrite & { keep?: boolean };

export class Coherence {
  readonly dir: Directory;
  private grantSeq = 0;
  private readonly lastGrant: number[] = [];

  constructor(
    private readonly space: AddressSpace,
    private readonly recalls: Recalls,
    private readonly roster: Roster,
    private readonly dirty: DirtyLog,
    private readonly epoch: string,
  ) {
    this.dir = new Directory(space.pageCount);
  }

  private get vmId(): string {
    return this.space.vmId;
  }

  private holderIndex(name: string): number {
    const h = this.dir.holder(name);
    this.roster.addHolder(name);
    return h;
  }

  /** Recalls whatever stands between requester `h` (-1: a device or mmu itself) and
   *  reading or writing the page indexes `pages`. */
  async resolve(pages: Iterable<number>, h: number, write: boolean): Promise<void> {
    const orders = new Map<string, { holder: number; mode: RecallMode; pages: number[] }>();
    const conflicts: { holder: number; mode: RecallMode }[] = [];
    for (const i of pages) {
      conflicts.length = 0;
      for (const c of this.dir.conflicts(i, h, write, conflicts)) {
        const key = `${c.holder}:${c.mode}`;
        let o = orders.get(key);
        if (!o) orders.set(key, (o = { holder: c.holder, mode: c.mode, pages: [] }));
        o.pages.push(i);
      }
    }
    for (const o of orders.values()) await this.recall(o.holder, o.mode, o.pages);
  }

  /**
   * A device writes `segs`, whose bytes are few: each holder of a page they touch gets
   * them written into its copy and keeps it (mode 'update'), instead of losing the page
   * and fetching it again on its next load, a round trip per page (a virtqueue's used ring
   * and a received frame, every frame). As KVM's coalesced guest-memory writes do not exist,
   * this is the cache-update protocol of Dragon/Firefly: the writer's bytes are broadcast to
   * the sharers. A page a holder could not update comes back without `updated` and is
   * invalidated as in `resolve`. Afterwards the caller writes mmu's own copy.
   */
  async update(pages: Iterable<number>, segs: readonly { addr: number; data: Uint8Array }[]): Promise<void> {
    const first = this.space.firstGfn;
    const byHolder = new Map<number, number[]>();
    const conflicts: { holder: number; mode: RecallMode }[] = [];
    for (const i of pages) {
      conflicts.length = 0;
      for (const c of this.dir.conflicts(i, -1, true, conflicts)) {
        let l = byHolder.get(c.holder);
        if (!l) byHolder.set(c.holder, (l = []));
        l.push(i);
      }
    }
    for (const [h, held] of byHolder) {
      const name = this.dir.nameOf(h);
      for (let at = 0; at < held.length; at += RECALL_RUN) {
        const run = held.slice(at, at + RECALL_RUN);
        const updates = pageUpdates(run, first, segs);
        const answer = await this.recalls.send(
          name,
          run.map((i) => i + first),
          'update',
          this.lastGrant[h] ?? 0,
          updates,
        );
        const byGfn = new Map(answer.map((p) => [p.gfn, p]));
        const rest: number[] = [];
        const writes: PageWrite[] = [];
        for (const i of run) {
          const p = byGfn.get(i + first);
          if (p?.updated && p.was !== PageState.Invalid) {
            this.dir.set(i, h, p.was);
            continue;
          }
          // Not updated: bytes it gave up come home; whatever copy it kept is taken next.
          if (p && p.was === PageState.Modified && (p.zero || p.data?.length === PAGE_SIZE)) {
            writes.push(p.zero ? { gfn: i + first, zero: true } : { gfn: i + first, data: p.data });
          }
          if (p && p.was !== PageState.Invalid) rest.push(i);
          else this.dir.set(i, h, PageState.Invalid);
        }
        this.space.writeBack(writes, false);
        if (rest.length) await this.recall(h, 'invalidate', rest);
      }
    }
  }

  /** Asks holder `h` for pages, RECALL_RUN at a time, and stores what comes back. */
  private async recall(h: number, mode: RecallMode, pages: readonly number[]): Promise<void> {
    const name = this.dir.nameOf(h);
    const first = this.space.firstGfn;
    for (let at = 0; at < pages.length; at += RECALL_RUN) {
      const run = pages.slice(at, at + RECALL_RUN);
      const answer = await this.recalls.send(
        name,
        run.map((i) => i + first),
        mode,
        this.lastGrant[h] ?? 0,
      );
      const byGfn = new Map(answer.map((p) => [p.gfn, p]));
      const writes: PageWrite[] = [];
      for (const i of run) {
        const p = byGfn.get(i + first);
        const was = p?.was ?? PageState.Invalid;
        if (p && was === PageState.Modified) {
          if (!p.zero && p.data?.length !== PAGE_SIZE) {
            throw unavailable(`vm "${this.vmId}": page cache "${name}" answered a recall of ${hex((i + first) * PAGE_SIZE)} with ${p.data?.length ?? 0} bytes`);
          }
          writes.push(p.zero ? { gfn: i + first, zero: true } : { gfn: i + first, data: p.data });
        }
      }
      this.space.writeBack(writes, false);
      for (const i of run) {
        const was = byGfn.get(i + first)?.was ?? PageState.Invalid;
        // clean: the holder keeps what it had (a holder that does not know the mode
        // downgraded, and says so in `was`).
        this.dir.set(i, h, mode === 'clean' ? was : mode === 'downgrade' && was !== PageState.Invalid ? PageState.Shared : PageState.Invalid);
      }
    }
  }

  /** Pages some holder has Modified, recalled down to Shared: afterwards mmu's bytes are
   *  the newest and any new guest write must come back for the page (and be seen). */
  async downgradeAll(): Promise<void> {
    const byHolder = new Map<number, number[]>();
    for (const [i, h] of this.dir.allModified()) {
      let l = byHolder.get(h);
      if (!l) byHolder.set(h, (l = []));
      l.push(i);
    }
    for (const [h, pages] of byHolder) await this.recall(h, 'downgrade', pages);
  }

  /** Pages some holder has Modified (they may be written at any moment without asking). */
  *heldModified(): Iterable<number> {
    for (const [i] of this.dir.allModified()) yield i;
  }

  /** A page cache asks for [gfn, gfn + count): Shared copies for a read, the only copy
   *  for a write. Others' copies in the way are recalled first. */
  async fetch(holder: string, gfn: number, count: number, write: boolean): Promise<FetchGrant> {
    this.space.checkFetch(gfn, count);
    const h = this.holderIndex(holder);
    const first = this.space.firstGfn;
    const idx = Array.from({ length: count }, (_, k) => gfn - first + k);
    await this.resolve(idx, h, write);
    const pages = this.space.fetch(gfn, count, write, (g) => this.dir.stateOf(g - first, h) === PageState.Shared);
    for (const i of idx) {
      this.dir.set(i, h, write ? PageState.Modified : PageState.Shared);
      if (write) this.dirty.mark(i);
    }
    const grant = ++this.grantSeq;
    this.lastGrant[h] = grant;
    return { pages, grant, epoch: this.epoch };
  }

  /** An administrative write (tools, tests: no holder): through the protocol as a device
   *  write would go. */
  async writeAsMmu(pages: readonly ReturnedPage[]): Promise<void> {
    for (const p of pages) this.space.checkPage(p.gfn, 'write-back');
    const first = this.space.firstGfn;
    const data = pages.filter((p) => !p.keep);
    await this.resolve(new Set(data.map((p) => p.gfn - first)), -1, true);
    this.space.writeBack(data);
    for (const p of data) this.dirty.mark(p.gfn - first);
  }

  /**
   * A holder gives pages back. Only pages it has Modified carry bytes that count: after
   * a recall took a page away, a write-back still in flight is stale and is dropped.
   * Returns how many pages were dropped as stale.
   */
  writeBack(holder: string, pages: readonly ReturnedPage[], opts: WriteBackOptions): number {
    for (const p of pages) this.space.checkPage(p.gfn, 'write-back');
    const first = this.space.firstGfn;
    const restarted = !!opts.epoch && opts.epoch !== this.epoch;
    let h = this.dir.find(holder);
    if (h < 0 && (restarted || opts.keepShared)) h = this.holderIndex(holder);
    const apply: PageWrite[] = [];
    const returned: number[] = [];
    let clean = 0;
    let stale = 0;
    for (const p of pages) {
      const i = p.gfn - first;
      const st = h >= 0 ? this.dir.stateOf(i, h) : PageState.Invalid;
      const o = this.dir.ownerOf(i);
      if (p.keep) {
        clean++;
        returned.push(i);
      } else if (st === PageState.Modified || (restarted && (o < 0 || o === h) && this.dir.conflicts(i, h, true).length === 0)) {
        apply.push(p);
        returned.push(i);
      } else stale++;
    }
    this.space.writeBack(apply);
    this.space.countCleanReturns(clean);
    for (const p of apply) this.dirty.mark(p.gfn - first);
    if (h >= 0) {
      for (const i of returned) this.dir.set(i, h, opts.keepShared ? PageState.Shared : PageState.Invalid);
      if (opts.releaseAll) {
        this.dir.dropHolder(h);
        this.roster.forgetHolders([holder]);
      }
    }
    return stale;
  }

  /**
   * A holder says what it holds: after mmu restarted (its claims were lost), or with
   * `reset` when it starts empty. Claims merge upward, so a grant made since the restart
   * is never lowered by a list the holder built before it.
   */
  reregister(holder: string, modified: readonly number[], shared: readonly number[], reset: boolean): number {
    const h = this.holderIndex(holder);
    if (reset) this.dir.dropHolder(h);
    const first = this.space.firstGfn;
    let taken = 0;
    for (const g of modified) {
      const i = g - first;
      const o = this.dir.ownerOf(i);
      if (o >= 0 && o !== h) continue; // another holder's: theirs is the one granted
      this.dir.set(i, h, PageState.Modified);
      taken++;
    }
    for (const g of shared) {
      const i = g - first;
      if (this.dir.ownerOf(i) >= 0 || this.dir.stateOf(i, h) !== PageState.Invalid) continue;
      this.dir.set(i, h, PageState.Shared);
      taken++;
    }
    if (reset && modified.length === 0 && shared.length === 0) this.roster.forgetHolders([holder]);
    return taken;
  }

  /** A write by mmu itself (image loading): coherent like a device's. */
  async write(addr: GuestPhysAddr, data: Uint8Array, what: string): Promise<number> {
    const pages = pagesOf(this.space, addr, data.length);
    await this.resolve(pages, -1, true);
    const n = this.space.write(addr, data, what);
    for (const i of pages) this.dirty.mark(i);
    return n;
  }
}

/** The parts of `segs` that fall in each of the page indexes `run`, as page updates. */
function pageUpdates(run: readonly number[], firstGfn: number, segs: readonly { addr: number; data: Uint8Array }[]): PageUpdate[] {
  const out: PageUpdate[] = [];
  for (const i of run) {
    const start = (i + firstGfn) * PAGE_SIZE;
    const end = start + PAGE_SIZE;
    for (const s of segs) {
      const a = Math.max(start, s.addr);
      const b = Math.min(end, s.addr + s.data.length);
      if (a < b) out.push({ gfn: i + firstGfn, offset: a - start, data: s.data.subarray(a - s.addr, b - s.addr) });
    }
  }
  return out;
}

/** The page indexes of `space` that [addr, addr + len) covers (len > 0, range checked). */
export function pagesOf(space: AddressSpace, addr: GuestPhysAddr, len: number): number[] {
  const a = Math.floor(addr / PAGE_SIZE) - space.firstGfn;
  const b = Math.floor((addr + len - 1) / PAGE_SIZE) - space.firstGfn;
  return Array.from({ length: b - a + 1 }, (_, k) => a + k);
}
