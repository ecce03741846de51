// One VM's memory as a service: its bytes (AddressSpace), who holds copies of its pages
// (Directory), and every access that must keep the two coherent. Each operation runs
// alone for the VM (a queue): a fetch, a DMA or a write-back sees the directory as the
// last one left it, including the recalls it had to wait for.
//
// The one call against the dependency direction is the recall (DESIGN.md, "The four
// services"): it goes through an injected Recaller, NATS request/reply in the service,
// a model of a page cache in the tests.
import { PAGE_SIZE, hex, summarize, type LatencySummary } from '@splitvisor/platform';
import type { AddressSpace, FetchedPage, PageWrite } from './address-space.js';
import { Directory, Held, type HeldValue, type RecallMode } from './directory.js';
import { denied, invalid, precondition, unavailable } from './errors.js';
import { PageBitmap } from './page-bitmap.js';
import { applySnapshot, verifySnapshot, writeSnapshot, type SnapshotInfo } from './snapshot.js';

/** Pages in one recall message: 256 KiB of answer, well under NATS's 1 MiB payload. */
export const RECALL_RUN = 64;
/** Most bytes one DMA call may move. */
export const MAX_DMA_BYTES = 16 * 1024 * 1024;
/** The holder a fetch or write-back names when it names none. */
export const DEFAULT_HOLDER = 'cpu';
/** Recall round trips kept for the latency summary. */
const LATENCY_RING = 4096;

export interface RecallOrder {
  vmId: string;
  holder: string;
  gfns: number[];
  mode: RecallMode;
  /** The holder answers once it has installed grant `grant` of `epoch` (0: any). */
  grant: number;
  epoch: string;
  id: number;
}

export interface RecalledPage {
  gfn: number;
  /** The holder's state before the recall. */
  was: HeldValue;
  /** The page's bytes when `was` is Modified (or `zero`). */
  data?: Uint8Array;
  zero?: boolean;
}

export interface Recaller {
  recall(order: RecallOrder): Promise<RecalledPage[]>;
}

/** A recaller for an mmu nobody caches from: any recall is a bug worth a clear error. */
export const NO_RECALLS: Recaller = {
  recall: (o) => Promise.reject(new Error(`no recall transport (holder "${o.holder}")`)),
};

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

export interface DmaSegment {
  addr: number;
  length: number;
  data?: Uint8Array;
}

export interface MemoryStats {
  recalls: number;
  recalledPages: number;
  dmaReadBytes: number;
  dmaWriteBytes: number;
  heldModified: number;
  heldShared: number;
  dirtyLogging: boolean;
  recovering: boolean;
}

/** What a VM remembers across an mmu restart (besides its bytes). */
export interface VmPersisted {
  /** Holders that may hold pages: after a restart they must re-register. */
  holders: string[];
  /** Backends allowed to DMA. */
  devices: string[];
}

export interface VmMemoryOptions {
  recaller?: Recaller;
  /** This mmu's boot id. */
  epoch?: string;
  /** mmu restarted: these holders may hold pages it no longer knows of. Until they
   *  re-register (or graceMs passes) no one else may touch the VM's memory. */
  recovering?: { holders: readonly string[]; graceMs: number };
  devices?: readonly string[];
  /** Called when what must survive a restart changed. */
  persist?: (p: VmPersisted) => void;
  onRecoveryEnd?: (how: { reregistered: string[]; missing: string[] }) => void;
}

interface Recovery {
  waiting: Set<string>;
  reregistered: string[];
  done: Promise<void>;
  finish: () => void;
  timer: NodeJS.Timeout;
}

export class VmMemory {
  readonly dir: Directory;
  readonly epoch: string;
  private readonly recaller: Recaller;
  private tail: Promise<unknown> = Promise.resolve();
  private grantSeq = 0;
  private readonly lastGrant: number[] = [];
  private readonly active = new Set<string>();
  private readonly devices: Set<string>;
  private dirty: PageBitmap | undefined;
  private recallSeq = 0;
  private readonly counters = { recalls: 0, recalledPages: 0, dmaReadBytes: 0, dmaWriteBytes: 0 };
  private recovery: Recovery | undefined;
  private readonly latency = new Float64Array(LATENCY_RING);
  private latencyCount = 0;

  constructor(
    readonly space: AddressSpace,
    private readonly opts: VmMemoryOptions = {},
  ) {
    this.dir = new Directory(space.pageCount);
    this.recaller = opts.recaller ?? NO_RECALLS;
    this.epoch = opts.epoch ?? '';
    this.devices = new Set(opts.devices ?? []);
    const r = opts.recovering;
    if (r && r.holders.length > 0) {
      for (const h of r.holders) this.active.add(h);
      let finish!: () => void;
      const done = new Promise<void>((resolve) => (finish = resolve));
      const timer = setTimeout(() => this.endRecovery(), r.graceMs);
      timer.unref();
      this.recovery = { waiting: new Set(r.holders), reregistered: [], done, finish, timer };
    }
  }

  get vmId(): string {
    return this.space.vmId;
  }

  /** Runs `fn` after every operation queued before it, alone. */
  private exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Waits out a recovery unless `holder` is one being waited for (its own cache knows
   *  what it holds; stopping it would stop the re-registration too). */
  private async coherent(holder?: string): Promise<void> {
    const r = this.recovery;
    if (!r || (holder !== undefined && r.waiting.has(holder))) return;
    await r.done;
  }

  private endRecovery(): void {
    const r = this.recovery;
    if (!r) return;
    this.recovery = undefined;
    clearTimeout(r.timer);
    for (const h of r.waiting) this.active.delete(h);
    this.persist();
    this.opts.onRecoveryEnd?.({ reregistered: r.reregistered, missing: [...r.waiting] });
    r.finish();
  }

  private persist(): void {
    this.opts.persist?.({ holders: [...this.active].sort(), devices: [...this.devices].sort() });
  }

  private holderIndex(name: string): number {
    const h = this.dir.holder(name);
    if (!this.active.has(name)) {
      this.active.add(name);
      this.persist();
    }
    return h;
  }

  // --- coherence -------------------------------------------------------------------

  /** Recalls whatever stands between requester `h` (-1: a device or mmu itself) and
   *  reading or writing the page indexes `pages`. */
  private async resolve(pages: Iterable<number>, h: number, write: boolean): Promise<void> {
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

  /** Asks holder `h` for pages, RECALL_RUN at a time, and stores what comes back. */
  private async recall(h: number, mode: RecallMode, pages: readonly number[]): Promise<void> {
    const name = this.dir.nameOf(h);
    const first = this.space.firstGfn;
    for (let at = 0; at < pages.length; at += RECALL_RUN) {
      const run = pages.slice(at, at + RECALL_RUN);
      const order: RecallOrder = {
        vmId: this.vmId,
        holder: name,
        gfns: run.map((i) => i + first),
        mode,
        grant: this.lastGrant[h] ?? 0,
        epoch: this.epoch,
        id: ++this.recallSeq,
      };
      let answer: RecalledPage[];
      const t0 = performance.now();
      try {
        answer = await this.recaller.recall(order);
        this.latency[this.latencyCount++ % LATENCY_RING] = (performance.now() - t0) * 1000;
      } catch (e) {
        throw unavailable(
          `vm "${this.vmId}": page cache "${name}" did not give back ${run.length} page(s) from ${hex((run[0]! + first) * PAGE_SIZE)} ` +
            `(${mode}): ${(e as Error).message}`,
        );
      }
      this.counters.recalls++;
      this.counters.recalledPages += run.length;
      const byGfn = new Map(answer.map((p) => [p.gfn, p]));
      const writes: PageWrite[] = [];
      for (const i of run) {
        const p = byGfn.get(i + first);
        const was = p?.was ?? Held.Invalid;
        if (p && was === Held.Modified) {
          if (!p.zero && p.data?.length !== PAGE_SIZE) {
            throw unavailable(`vm "${this.vmId}": page cache "${name}" answered a recall of ${hex((i + first) * PAGE_SIZE)} with ${p.data?.length ?? 0} bytes`);
          }
          writes.push(p.zero ? { gfn: i + first, zero: true } : { gfn: i + first, data: p.data });
        }
      }
      this.space.writeBack(writes, false);
      for (const i of run) {
        const was = byGfn.get(i + first)?.was ?? Held.Invalid;
        // clean: the holder keeps what it had (a holder that does not know the mode
        // downgraded, and says so in `was`).
        this.dir.set(i, h, mode === 'clean' ? was : mode === 'downgrade' && was !== Held.Invalid ? Held.Shared : Held.Invalid);
      }
    }
  }

  private markDirty(i: number): void {
    this.dirty?.set(i);
  }

  /** A page cache asks for [gfn, gfn + count): Shared copies for a read, the only copy
   *  for a write. Others' copies in the way are recalled first. */
  async fetch(holder: string, gfn: number, count: number, write: boolean): Promise<FetchGrant> {
    this.space.checkFetch(gfn, count);
    await this.coherent(holder);
    return this.exclusive(async () => {
      this.space.checkFetch(gfn, count);
      const h = this.holderIndex(holder);
      const first = this.space.firstGfn;
      const idx = Array.from({ length: count }, (_, k) => gfn - first + k);
      await this.resolve(idx, h, write);
      const pages = this.space.fetch(gfn, count, write, (g) => this.dir.stateOf(g - first, h) === Held.Shared);
      for (const i of idx) {
        this.dir.set(i, h, write ? Held.Modified : Held.Shared);
        if (write) this.markDirty(i);
      }
      const grant = ++this.grantSeq;
      this.lastGrant[h] = grant;
      return { pages, grant, epoch: this.epoch };
    });
  }

  /**
   * A holder gives pages back. Only pages it has Modified carry bytes that count: after
   * a recall took a page away, a write-back still in flight is stale and is dropped.
   * `keep` pages come back clean, without bytes. An empty holder is an administrative
   * write (tools, tests): it goes through the protocol as a device write would.
   * Returns how many pages were dropped as stale.
   */
  async writeBack(holder: string, pages: readonly (PageWrite & { keep?: boolean })[], opts: WriteBackOptions = {}): Promise<number> {
    if (holder === '') {
      await this.coherent();
      return this.exclusive(async () => {
        for (const p of pages) this.space.checkPage(p.gfn, 'write-back');
        const first = this.space.firstGfn;
        const data = pages.filter((p) => !p.keep);
        await this.resolve(new Set(data.map((p) => p.gfn - first)), -1, true);
        this.space.writeBack(data);
        for (const p of data) this.markDirty(p.gfn - first);
        return 0;
      });
    }
    return this.exclusive(() => {
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
        const st = h >= 0 ? this.dir.stateOf(i, h) : Held.Invalid;
        const o = this.dir.ownerOf(i);
        if (p.keep) {
          clean++;
          returned.push(i);
        } else if (st === Held.Modified || (restarted && (o < 0 || o === h) && this.dir.conflicts(i, h, true).length === 0)) {
          apply.push(p);
          returned.push(i);
        } else stale++;
      }
      this.space.writeBack(apply);
      this.space.countCleanReturns(clean);
      for (const p of apply) this.markDirty(p.gfn - first);
      if (h >= 0) {
        for (const i of returned) this.dir.set(i, h, opts.keepShared ? Held.Shared : Held.Invalid);
        if (opts.releaseAll) {
          this.dir.dropHolder(h);
          this.active.delete(holder);
          this.persist();
        }
      }
      // A holder that let go of everything has nothing left to re-register.
      if (opts.releaseAll) this.heard(holder);
      return stale;
    });
  }

  /** `holder` has told what it holds (or that it holds nothing): a recovery waits no more
   *  for it. */
  private heard(holder: string): void {
    const r = this.recovery;
    if (r?.waiting.delete(holder)) {
      r.reregistered.push(holder);
      if (r.waiting.size === 0) this.endRecovery();
    }
  }

  /**
   * A holder says what it holds: after mmu restarted (its claims were lost), or with
   * `reset` when it starts empty. Claims merge upward, so a grant made since the restart
   * is never lowered by a list the holder built before it.
   */
  async reregister(holder: string, modified: readonly number[], shared: readonly number[], reset = false): Promise<number> {
    for (const g of [...modified, ...shared]) this.space.checkPage(g, 'reregister');
    const n = await this.exclusive(() => {
      const h = this.holderIndex(holder);
      if (reset) this.dir.dropHolder(h);
      const first = this.space.firstGfn;
      let taken = 0;
      for (const g of modified) {
        const i = g - first;
        const o = this.dir.ownerOf(i);
        if (o >= 0 && o !== h) continue; // another holder's: theirs is the one granted
        this.dir.set(i, h, Held.Modified);
        taken++;
      }
      for (const g of shared) {
        const i = g - first;
        if (this.dir.ownerOf(i) >= 0 || this.dir.stateOf(i, h) !== Held.Invalid) continue;
        this.dir.set(i, h, Held.Shared);
        taken++;
      }
      if (reset && modified.length === 0 && shared.length === 0) {
        this.active.delete(holder);
        this.persist();
      }
      return taken;
    });
    this.heard(holder);
    return n;
  }

  // --- devices -----------------------------------------------------------------------

  attachDevice(backend: string): void {
    if (!this.devices.has(backend)) {
      this.devices.add(backend);
      this.persist();
    }
  }

  detachDevice(backend: string): boolean {
    const had = this.devices.delete(backend);
    if (had) this.persist();
    return had;
  }

  get attachedDevices(): string[] {
    return [...this.devices].sort();
  }

  /** Checks identity, attachment and ranges; the page indexes the segments cover. */
  private checkDma(op: 'read' | 'write', caller: string, segs: readonly DmaSegment[]): Set<number> {
    this.space.assertLive();
    const lens = segs.map((s) => (op === 'write' ? (s.data?.length ?? 0) : s.length));
    const first = segs[0];
    const what = first ? `DMA ${op} of vm "${this.vmId}" [${hex(first.addr)}, ${hex(first.addr + lens[0]!)})${segs.length > 1 ? ` and ${segs.length - 1} more segment(s)` : ''}` : `DMA ${op} of vm "${this.vmId}"`;
    if (!caller) throw denied(`${what} refused: the call names no caller (metadata x-splitvisor-caller)`);
    if (!this.devices.has(caller)) {
      throw denied(`${what} refused: caller "${caller.slice(0, 80)}" is not a device backend attached to vm "${this.vmId}"`);
    }
    let total = 0;
    const pages = new Set<number>();
    segs.forEach((s, k) => {
      const len = lens[k]!;
      if (len === 0) return;
      total += len;
      this.space.checkRange(s.addr, len, `DMA ${op} by "${caller}" of vm "${this.vmId}":`);
      const a = Math.floor(s.addr / PAGE_SIZE) - this.space.firstGfn;
      const b = Math.floor((s.addr + len - 1) / PAGE_SIZE) - this.space.firstGfn;
      for (let i = a; i <= b; i++) pages.add(i);
    });
    if (total > MAX_DMA_BYTES) throw invalid(`${what} moves ${total} bytes; one call moves at most ${MAX_DMA_BYTES}`);
    return pages;
  }

  /** Device reads: the newest bytes, recalled from a holder that has them Modified. The
   *  recalls go out in the order of the segments' pages (one order per holder), so a
   *  device that lists a virtqueue's avail ring before its descriptor table never gets a
   *  table older than the idx (virtio 1.2 §2.7.13.3); with one holder it is one order,
   *  answered at one safepoint: one instant of the guest. */
  async dmaRead(caller: string, segs: readonly DmaSegment[]): Promise<Buffer[]> {
    this.checkDma('read', caller, segs);
    await this.coherent();
    return this.exclusive(async () => {
      const pages = this.checkDma('read', caller, segs);
      await this.resolve(pages, -1, false);
      const out = segs.map((s) => this.space.read(s.addr, s.length));
      for (const s of segs) this.counters.dmaReadBytes += s.length;
      return out;
    });
  }

  /** Device writes: every cached copy of the pages is recalled (Modified bytes merged),
   *  then the segments are applied in order with the VM's lock held: no fetch sees the
   *  memory between two of them (GuestMemory.writev's promise, virtio 1.2 §2.7.8). */
  async dmaWrite(caller: string, segs: readonly DmaSegment[]): Promise<number> {
    this.checkDma('write', caller, segs);
    await this.coherent();
    return this.exclusive(async () => {
      const pages = this.checkDma('write', caller, segs);
      await this.resolve(pages, -1, true);
      let n = 0;
      for (const s of segs) n += this.space.write(s.addr, s.data ?? new Uint8Array(0), `DMA write by "${caller}" of vm "${this.vmId}":`);
      for (const i of pages) this.markDirty(i);
      this.counters.dmaWriteBytes += n;
      return n;
    });
  }

  /** Image loading (dom0): a write by mmu itself, coherent like a device's. */
  async write(addr: number, data: Uint8Array, what = 'write'): Promise<number> {
    if (data.length === 0) return 0;
    this.space.checkRange(addr, data.length, what);
    await this.coherent();
    return this.exclusive(async () => {
      const a = Math.floor(addr / PAGE_SIZE) - this.space.firstGfn;
      const b = Math.floor((addr + data.length - 1) / PAGE_SIZE) - this.space.firstGfn;
      const pages = Array.from({ length: b - a + 1 }, (_, k) => a + k);
      await this.resolve(pages, -1, true);
      const n = this.space.write(addr, data, what);
      for (const i of pages) this.markDirty(i);
      return n;
    });
  }

  // --- dirty log and snapshots -------------------------------------------------------

  /** Pages some holder has Modified, recalled down to Shared: afterwards mmu's bytes are
   *  the newest and any new guest write must come back for the page (and be seen). */
  private async downgradeAll(): Promise<void> {
    const byHolder = new Map<number, number[]>();
    for (const [i, h] of this.dir.allModified()) {
      let l = byHolder.get(h);
      if (!l) byHolder.set(h, (l = []));
      l.push(i);
    }
    for (const [h, pages] of byHolder) await this.recall(h, 'downgrade', pages);
  }

  startDirtyLog(): Promise<void> {
    return this.exclusive(() => {
      if (this.dirty) return;
      this.dirty = new PageBitmap(this.space.pageCount);
      // Pages already held Modified may be written at any moment without asking.
      for (const [i] of this.dir.allModified()) this.dirty.set(i);
    });
  }

  stopDirtyLog(): Promise<void> {
    return this.exclusive(() => {
      this.dirty = undefined;
    });
  }

  /** The dirty bitmap; with `clear`, read and clear in one step, holders' writable
   *  copies downgraded first so no write after this call goes unseen (KVM write-protects
   *  pages on the same call for the same reason). */
  async getDirtyLog(clear: boolean): Promise<{ bitmap: Buffer; dirty: number }> {
    await this.coherent();
    return this.exclusive(async () => {
      if (!this.dirty) throw precondition(`dirty logging is off for vm "${this.vmId}" (StartDirtyLog first)`);
      if (clear) await this.downgradeAll();
      const out = { bitmap: this.dirty.toBytes(), dirty: this.dirty.count };
      if (clear) this.dirty.clearAll();
      return out;
    });
  }

  /** Every page's newest bytes to `path` (holders keep Shared copies and run on). */
  async snapshot(path: string): Promise<SnapshotInfo> {
    await this.coherent();
    return this.exclusive(async () => {
      this.space.assertLive();
      await this.downgradeAll();
      return writeSnapshot(this.space, path);
    });
  }

  /** Replaces the VM's memory by a snapshot's; refused while a page cache holds pages. */
  async restore(path: string, sha256?: string): Promise<{ pages: number; sha256: string }> {
    await this.coherent();
    return this.exclusive(() => {
      this.space.assertLive();
      if (this.dir.anyHeld) {
        throw precondition(
          `vm "${this.vmId}" has ${this.dir.modifiedPages + this.dir.sharedPages} pages in page caches (${this.dir.holders.join(', ')}): stop it before restoring`,
        );
      }
      const h = verifySnapshot(path);
      if (sha256 && sha256 !== h.sha256) throw invalid(`${path} has checksum ${h.sha256}, not the ${sha256} asked for`);
      applySnapshot(this.space, path, h);
      if (this.dirty) for (const g of this.space.residentGfns()) this.markDirty(g - this.space.firstGfn);
      return { pages: h.pages, sha256: h.sha256 };
    });
  }

  /** `count` empty recalls to `holder`, one after another: the transport under a recall
   *  (nothing is queued behind the VM's other operations, nothing changes). */
  async probeRecall(holder: string, count: number): Promise<LatencySummary> {
    if (!Number.isInteger(count) || count < 1 || count > 100_000) throw invalid(`count ${count} must be between 1 and 100000`);
    const samples = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      try {
        await this.recaller.recall({ vmId: this.vmId, holder, gfns: [], mode: 'downgrade', grant: 0, epoch: this.epoch, id: 0 });
      } catch (e) {
        throw unavailable(`vm "${this.vmId}": page cache "${holder}" did not answer an empty recall: ${(e as Error).message}`);
      }
      samples[i] = (performance.now() - t0) * 1000;
    }
    return summarize(samples);
  }

  /** Round trips of the latest recalls; `reset` starts a new sample afterwards. */
  recallLatency(reset = false): LatencySummary {
    const n = Math.min(this.latencyCount, LATENCY_RING);
    const out = summarize(this.latency.subarray(0, n));
    if (reset) this.latencyCount = 0;
    return out;
  }

  // --- life ---------------------------------------------------------------------------

  release(): number {
    if (this.recovery) clearTimeout(this.recovery.timer);
    this.recovery?.finish();
    this.recovery = undefined;
    this.dir.clear();
    return this.space.release();
  }

  close(): void {
    if (this.recovery) clearTimeout(this.recovery.timer);
    this.space.close();
  }

  get recovering(): boolean {
    return this.recovery !== undefined;
  }

  memoryStats(): MemoryStats {
    return {
      ...this.counters,
      heldModified: this.dir.modifiedPages,
      heldShared: this.dir.sharedPages,
      dirtyLogging: this.dirty !== undefined,
      recovering: this.recovery !== undefined,
    };
  }

  stats() {
    return { ...this.space.stats(), ...this.memoryStats() };
  }
}
