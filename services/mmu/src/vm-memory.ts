// One VM's memory as a service: a facade over its rooms (vm/): the bytes (AddressSpace),
// coherence with the page caches (Coherence over the Directory), device DMA and its access
// control (Dma), the dirty log, snapshots, the recall transport with its probe and timings
// (Recalls), who may touch the VM (Roster) and the wait after an mmu restart (Recovery).
//
// What stays here is the order of things: each operation runs alone for the VM (a queue),
// so a fetch, a DMA or a write-back sees the directory as the last one left it, including
// the recalls it had to wait for; and none but a holder being waited for goes on while a
// recovery lasts.
import type { GuestPhysAddr, LatencySummary } from '@splitvisor/platform';
import type { AddressSpace } from './address-space.js';
import type { Directory } from './directory.js';
import type { SnapshotInfo } from './snapshot.js';
import { Coherence, type FetchGrant, type ReturnedPage, type WriteBackOptions } from './vm/coherence.js';
import { DirtyLog } from './vm/dirty-log.js';
import { Dma, type DmaSegment } from './vm/dma.js';
import { NO_RECALLS, Recalls, type Recaller } from './vm/recalls.js';
import { Recovery, type RecoveryEnd } from './vm/recovery.js';
import { Roster, type VmPersisted } from './vm/roster.js';
import { restoreSnapshot, takeSnapshot } from './vm/snapshots.js';

export { MAX_DMA_BYTES, UPDATE_MAX_BYTES, type DmaSegment } from './vm/dma.js';
export { NO_RECALLS, RECALL_RUN, type RecallOrder, type RecalledPage, type Recaller } from './vm/recalls.js';
export type { FetchGrant, WriteBackOptions } from './vm/coherence.js';
export type { VmPersisted } from './vm/roster.js';

/** The holder a fetch or write-back names when it names none. */
export const DEFAULT_HOLDER = 'cpu';

export interface MemoryStats {
  recalls: number;
  recalledPages: number;
  /** Recalls that carried a small device write into a holder's copy (mode 'update'). */
  updateRecalls: number;
  /** Recalls answered on a holder's stream (Mmu.RecallStream); the others went over NATS. */
  streamedRecalls: number;
  dmaReadBytes: number;
  dmaWriteBytes: number;
  /** DMA writes sent again under an id already applied (answered, not written again). */
  dmaWriteRepeats: number;
  heldModified: number;
  heldShared: number;
  dirtyLogging: boolean;
  recovering: boolean;
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
  onRecoveryEnd?: (how: RecoveryEnd) => void;
}

export class VmMemory {
  readonly epoch: string;
  private readonly roster: Roster;
  private readonly recovery: Recovery;
  private readonly recalls: Recalls;
  private readonly dirty: DirtyLog;
  private readonly coherence: Coherence;
  private readonly dma: Dma;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly space: AddressSpace,
    opts: VmMemoryOptions = {},
  ) {
    this.epoch = opts.epoch ?? '';
    this.roster = new Roster(opts.devices ?? [], opts.persist);
    const waitFor = opts.recovering?.holders ?? [];
    this.roster.recoverHolders(waitFor);
    this.recovery = new Recovery(waitFor, opts.recovering?.graceMs ?? 0, (how) => {
      this.roster.forgetHolders(how.missing);
      opts.onRecoveryEnd?.(how);
    });
    this.recalls = new Recalls(opts.recaller ?? NO_RECALLS, space.vmId, this.epoch);
    this.dirty = new DirtyLog(space.pageCount, space.vmId);
    this.coherence = new Coherence(space, this.recalls, this.roster, this.dirty, this.epoch);
    this.dma = new Dma(space, this.roster, this.coherence, this.dirty);
  }

  get vmId(): string {
    return this.space.vmId;
  }

  /** Who holds which page (read-only use: tests, stats). */
  get dir(): Directory {
    return this.coherence.dir;
  }

  /** Runs `fn` after every operation queued before it, alone. */
  private exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  // --- page caches ------------------------------------------------------------------

  async fetch(holder: string, gfn: number, count: number, write: boolean): Promise<FetchGrant> {
    this.space.checkFetch(gfn, count);
    await this.recovery.wait(holder);
    return this.exclusive(() => this.coherence.fetch(holder, gfn, count, write));
  }

  /** A holder gives pages back (see Coherence.writeBack); an empty holder is an
   *  administrative write. Returns how many pages were dropped as stale. */
  async writeBack(holder: string, pages: readonly ReturnedPage[], opts: WriteBackOptions = {}): Promise<number> {
    if (holder === '') {
      await this.recovery.wait();
      return this.exclusive(async () => {
        await this.coherence.writeAsMmu(pages);
        return 0;
      });
    }
    return this.exclusive(() => {
      const stale = this.coherence.writeBack(holder, pages, opts);
      // A holder that let go of everything has nothing left to re-register.
      if (opts.releaseAll) this.recovery.heard(holder);
      return stale;
    });
  }

  async reregister(holder: string, modified: readonly number[], shared: readonly number[], reset = false): Promise<number> {
    for (const g of [...modified, ...shared]) this.space.checkPage(g, 'reregister');
    const n = await this.exclusive(() => this.coherence.reregister(holder, modified, shared, reset));
    this.recovery.heard(holder);
    return n;
  }

  // --- devices -----------------------------------------------------------------------

  attachDevice(backend: string): void {
    this.roster.attach(backend);
  }

  detachDevice(backend: string): boolean {
    return this.roster.detach(backend);
  }

  get attachedDevices(): string[] {
    return this.roster.attached;
  }

  async dmaRead(caller: string, segs: readonly DmaSegment[]): Promise<Buffer[]> {
    this.dma.check('read', caller, segs);
    await this.recovery.wait();
    return this.exclusive(() => this.dma.read(caller, segs));
  }

  /** `writeId` (non-zero): the caller's name for this write; a repeat is not applied again. */
  async dmaWrite(caller: string, segs: readonly DmaSegment[], writeId = 0): Promise<number> {
    this.dma.check('write', caller, segs);
    await this.recovery.wait();
    return this.exclusive(() => this.dma.write(caller, segs, writeId));
  }

  /** Image loading (dom0): a write by mmu itself, coherent like a device's. */
  async write(addr: GuestPhysAddr, data: Uint8Array, what = 'write'): Promise<number> {
    if (data.length === 0) return 0;
    this.space.checkRange(addr, data.length, what);
    await this.recovery.wait();
    return this.exclusive(() => this.coherence.write(addr, data, what));
  }

  // --- dirty log and snapshots -------------------------------------------------------

  startDirtyLog(): Promise<void> {
    return this.exclusive(() => this.dirty.start(() => this.coherence.heldModified()));
  }

  stopDirtyLog(): Promise<void> {
    return this.exclusive(() => this.dirty.stop());
  }

  async getDirtyLog(clear: boolean): Promise<{ bitmap: Buffer; dirty: number }> {
    await this.recovery.wait();
    return this.exclusive(() => this.dirty.read(clear, () => this.coherence.downgradeAll()));
  }

  async snapshot(path: string): Promise<SnapshotInfo> {
    await this.recovery.wait();
    return this.exclusive(() => takeSnapshot(this.space, this.coherence, path));
  }

  async restore(path: string, sha256?: string): Promise<{ pages: number; sha256: string }> {
    await this.recovery.wait();
    return this.exclusive(() => restoreSnapshot(this.space, this.coherence.dir, this.dirty, path, sha256));
  }

  // --- recalls -------------------------------------------------------------------------

  probeRecall(holder: string, count: number): Promise<LatencySummary> {
    return this.recalls.probe(holder, count);
  }

  recallLatency(reset = false): LatencySummary {
    return this.recalls.latencySummary(reset);
  }

  // --- life ---------------------------------------------------------------------------

  release(): number {
    this.recovery.abandon();
    this.coherence.dir.clear();
    return this.space.release();
  }

  close(): void {
    this.recovery.stopTimer();
    this.space.close();
  }

  get recovering(): boolean {
    return this.recovery.active;
  }

  memoryStats(): MemoryStats {
    return {
      ...this.recalls.counts,
      ...this.dma.counts,
      heldModified: this.dir.modifiedPages,
      heldShared: this.dir.sharedPages,
      dirtyLogging: this.dirty.on,
      recovering: this.recovery.active,
    };
  }

  stats() {
    return { ...this.space.stats(), ...this.memoryStats() };
  }
}
