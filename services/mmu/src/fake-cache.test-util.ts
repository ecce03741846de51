// A vCPU's page cache reduced to its protocol, for driving VmMemory without a network:
// per page Invalid / Shared / Modified and a local copy of the bytes, as the cpu keeps
// them. It follows the cpu's rules: an access that misses fetches and uses the page in
// the same step; a recall waits until the grant it names has been installed; a page
// being written back still answers a recall with its bytes until the write-back is done.
import { PAGE_SIZE, PageState, type PageStateValue } from '@splitvisor/platform';
import type { FetchGrant, RecallOrder, RecalledPage, Recaller, VmMemory } from './vm-memory.js';

/** Lets a test (fast-check's scheduler) decide when an awaited step resumes. */
export type Delay = <T>(p: Promise<T>) => Promise<T>;
const now: Delay = (p) => p;

export class FakeCache {
  readonly state: Uint8Array;
  readonly bytes: Uint8Array;
  private epoch = '';
  private installed = 0;
  private readonly deferred: { order: RecallOrder; resolve: (p: RecalledPage[]) => void }[] = [];
  recallsServed = 0;
  /** Pages whose write-back is on its way: their bytes were taken, so an update to them
   *  would be lost when the write-back lands; they are answered as not updated. */
  private readonly writingBack = new Set<number>();

  constructor(
    readonly name: string,
    private readonly mem: () => VmMemory,
    private readonly delay: Delay = now,
    /** Pages per fetch when the next ones are Invalid too (the cpu's run). */
    private readonly run = 1,
  ) {
    const pages = mem().space.pageCount;
    this.state = new Uint8Array(pages);
    this.bytes = new Uint8Array(pages * PAGE_SIZE);
  }

  private get firstGfn(): number {
    return this.mem().space.firstGfn;
  }

  /** Offset `off` (from the start of RAM) as the guest reads it. */
  async read(off: number): Promise<number> {
    const page = Math.floor(off / PAGE_SIZE);
    while (this.state[page]! < PageState.Shared) await this.miss(page, false);
    return this.bytes[off]!;
  }

  /** The guest stores `v` at offset `off`. */
  async write(off: number, v: number): Promise<void> {
    const page = Math.floor(off / PAGE_SIZE);
    while (this.state[page]! < PageState.Modified) await this.miss(page, true);
    this.bytes[off] = v;
  }

  private async miss(page: number, write: boolean): Promise<void> {
    let count = 1;
    while (count < this.run && page + count < this.state.length && this.state[page + count] === PageState.Invalid) count++;
    const g = await this.delay(this.mem().fetch(this.name, this.firstGfn + page, count, write));
    this.install(g, write);
  }

  private install(g: FetchGrant, write: boolean): void {
    if (g.epoch !== this.epoch) {
      this.epoch = g.epoch;
      this.installed = 0;
    }
    for (const p of g.pages) {
      const i = p.gfn - this.firstGfn;
      if ('keep' in p) {
        // our Shared copy is current
      } else if (p.zero) this.bytes.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      else this.bytes.set(p.data, i * PAGE_SIZE);
      this.state[i] = write ? PageState.Modified : PageState.Shared;
    }
    this.installed = Math.max(this.installed, g.grant);
    // Recalls waiting for this grant go at the next safepoint: after the access that
    // needed the page, never between the fetch and that access.
    queueMicrotask(() => this.flush());
  }

  /** The recaller's side: answers once the grant the order names is installed. */
  recall(order: RecallOrder): Promise<RecalledPage[]> {
    return this.delay(Promise.resolve()).then(
      () =>
        new Promise<RecalledPage[]>((resolve) => {
          this.deferred.push({ order, resolve });
          this.flush();
        }),
    );
  }

  private ready(o: RecallOrder): boolean {
    return o.grant === 0 || (o.epoch === this.epoch && o.grant <= this.installed);
  }

  private flush(): void {
    for (let k = 0; k < this.deferred.length;) {
      const d = this.deferred[k]!;
      if (!this.ready(d.order)) {
        k++;
        continue;
      }
      this.deferred.splice(k, 1);
      d.resolve(this.serve(d.order));
    }
  }

  private serve(o: RecallOrder): RecalledPage[] {
    this.recallsServed++;
    return o.gfns.map((gfn) => {
      const i = gfn - this.firstGfn;
      const was = this.state[i]! as PageStateValue;
      const out: RecalledPage = { gfn, was };
      if (o.mode === 'update') {
        // The cpu's rule (worker-cache.ts): a held page takes the bytes and stays as it was.
        if (was === PageState.Invalid || this.writingBack.has(i)) return out;
        for (const u of o.updates ?? []) if (u.gfn === gfn) this.bytes.set(u.data, i * PAGE_SIZE + u.offset);
        out.updated = true;
        return out;
      }
      if (was === PageState.Modified) {
        const data = this.bytes.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
        if (data.every((b) => b === 0)) out.zero = true;
        else out.data = data;
      }
      if (o.mode === 'invalidate') this.state[i] = PageState.Invalid;
      else if (o.mode === 'downgrade' && was === PageState.Modified) this.state[i] = PageState.Shared;
      return out;
    });
  }

  /** Gives back every page it has Modified (and, with releaseAll, everything). The pages
   *  stay Modified here until mmu has them, so a recall meanwhile still gets the bytes. */
  async writeBack(releaseAll = false): Promise<void> {
    const pages = [];
    const idx: number[] = [];
    for (let i = 0; i < this.state.length; i++) {
      if (this.state[i] !== PageState.Modified) continue;
      idx.push(i);
      this.writingBack.add(i);
      pages.push({ gfn: this.firstGfn + i, data: this.bytes.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE) });
    }
    try {
      await this.delay(this.mem().writeBack(this.name, pages, { releaseAll, epoch: this.epoch }));
    } finally {
      for (const i of idx) this.writingBack.delete(i);
    }
    for (const i of idx) if (this.state[i] === PageState.Modified) this.state[i] = PageState.Invalid;
    if (releaseAll) this.state.fill(PageState.Invalid);
  }

  /** What the cpu does when mmu restarted: tell it everything it holds. */
  async reregister(): Promise<void> {
    const modified: number[] = [];
    const shared: number[] = [];
    this.state.forEach((s, i) => {
      if (s === PageState.Modified) modified.push(this.firstGfn + i);
      else if (s === PageState.Shared) shared.push(this.firstGfn + i);
    });
    await this.mem().reregister(this.name, modified, shared);
  }
}

/** Routes each recall to the named fake cache. */
export function recallerFor(caches: () => readonly FakeCache[]): Recaller {
  return {
    recall(order) {
      const c = caches().find((x) => x.name === order.holder);
      if (!c) return Promise.reject(new Error(`no page cache "${order.holder}"`));
      return c.recall(order);
    },
  };
}
