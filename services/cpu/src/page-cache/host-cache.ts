// The host thread's half of a vCPU's page cache: it speaks the directory protocol with mmu
// (DESIGN.md "mmu"). It fetches runs of pages into the VM's RAM for the worker's misses,
// answers mmu's recalls (through the worker, which owns the hart's page states), writes
// pages back when the vCPU stops, and when mmu restarted tells the new one what it holds.
//
// `state` mirrors the worker's page states. It changes only here: at a fetch (before the
// worker is told, and the worker sets the same), and when a recall's answer comes back.
//
// Ordering rules that keep it coherent:
// - A recall names the grant it needs (mmu's grant numbers, per mmu epoch). A recall can
//   overtake the fetch reply it concerns (NATS vs gRPC); it waits here until that reply
//   is in RAM, or it would be answered "not held" for a page about to be installed.
// - mmu may ask again with the same id when an answer got lost: answers are kept by id
//   for a while and given again, so the bytes of a page given up are never lost.
// - Pages being written back stay Modified here until mmu has them: a recall meanwhile
//   still gets their bytes (mmu then drops the late write-back as stale).
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { heldStateOf, type MmuV1 } from '@splitvisor/proto';
import { RpcError } from '@splitvisor/rpc';
import { hex, PAGE_SIZE } from '@splitvisor/platform';
import type { Logger } from '@splitvisor/log';
import { PageState, type PageStateValue } from '@splitvisor/riscv';
import { DEFAULT_HOLDER, type GuestPages, type PageRecalls } from '../ports/index.js';
import type { PageUpdateMsg, RecallAnswerMsg, RecallOrderMsg } from './protocol.js';

/** Pages per write-back call (256 KiB). */
const WRITEBACK_RUN = 64;
/** How long a stopping vCPU waits for an absent mmu to take its pages back. */
const WRITEBACK_OUTAGE_MS = 5000;
/** Answers kept for recalls asked again. */
const ANSWERS_KEPT = 64;

export interface HostPageCacheOptions {
  vmId: string;
  ramBase: number;
  /** The VM's RAM, shared with the worker. */
  ram: Uint8Array;
  /** Rings the worker once an order is posted (the exit channel's recall doorbell). */
  recallDoorbell: { ringRecall(): void };
  /** The VM's pages at their home (mmu). */
  pages: GuestPages;
  /** The home's recalls and restarts. */
  recalls: PageRecalls;
  log: Logger;
  /** Deadline of one call to mmu. */
  exitDeadlineMs: number;
  /** This cache's name in mmu's directory (a NATS subject token): the one `pages` and
   *  `recalls` were made for. */
  holder?: string;
  /** How long an mmu may be away (a restart) before the vCPU's miss fails. */
  outageMs?: number;
}

export interface PageCacheStats {
  recalls: number;
  /** Recalls that carried a device's bytes into the pages held (RECALL_UPDATE). */
  updates: number;
  recalledPages: number;
  reregistrations: number;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

export class HostPageCache {
  readonly state: Uint8Array;
  /** The worker's end of the recall channel (transfer it with the worker's InitMessage). */
  readonly workerPort: MessagePort;
  readonly holder: string;
  readonly stats: PageCacheStats = { recalls: 0, updates: 0, recalledPages: 0, reregistrations: 0 };
  private readonly port: MessagePort;
  private readonly baseGfn: number;
  private readonly log: Logger;
  private epoch = '';
  private installed = 0;
  private orderSeq = 0;
  private readonly waiting = new Map<number, { resolve: (a: RecallAnswerMsg) => void; reject: (e: Error) => void }>();
  private deferred: { req: MmuV1.RecallRequest__Output; go: () => void }[] = [];
  private readonly inflight = new Map<string, Promise<MmuV1.RecallReply>>();
  private readonly answered = new Map<string, MmuV1.RecallReply>();
  private workerGone = false;
  private readonly stopListening: () => void;
  private reregistering: Promise<void> | undefined;
  private reregisterAgain = false;
  private mmuAway = false;
  private closed = false;
  /** writeBackAll is sending the pages home: updates to them would be lost. */
  private writingBack = false;

  constructor(private readonly o: HostPageCacheOptions) {
    this.holder = o.holder ?? DEFAULT_HOLDER;
    this.log = o.log;
    this.baseGfn = o.ramBase / PAGE_SIZE;
    this.state = new Uint8Array(o.ram.length / PAGE_SIZE);
    const ch = new MessageChannel();
    this.port = ch.port1;
    this.workerPort = ch.port2;
    this.port.on('message', (a: RecallAnswerMsg) => {
      const w = this.waiting.get(a.id);
      this.waiting.delete(a.id);
      w?.resolve(a);
    });
    this.stopListening = o.recalls.listen(
      (req) => this.onRecall(req),
      (epoch) => this.onMmuStarted(epoch),
    );
  }

  // --- fetch -------------------------------------------------------------------------

  /**
   * Brings [page, page + count) in for a read (Shared) or a write (Modified), puts the
   * bytes in RAM, then calls `ready` (which wakes the worker), then lets recalls that
   * waited for this grant go. Throws when mmu refuses or stays away too long.
   */
  async fetch(page: number, count: number, write: boolean, ready: () => void): Promise<void> {
    const res = await this.retry('FetchPages', (deadlineMs) => this.o.pages.fetch(this.baseGfn + page, count, write, deadlineMs));
    if (res.pages.length !== count) throw new Error(`mmu returned ${res.pages.length} pages, asked for ${count}`);
    for (const p of res.pages) {
      const idx = p.gfn - this.baseGfn;
      if (idx < page || idx >= page + count) throw new Error(`mmu returned gfn ${hex(p.gfn)}, not one asked for`);
      const off = idx * PAGE_SIZE;
      if (p.keep) {
        // our Shared copy is current (an upgrade)
      } else if (p.zero) this.o.ram.fill(0, off, off + PAGE_SIZE);
      else if (p.data.length === PAGE_SIZE) this.o.ram.set(p.data, off);
      else throw new Error(`mmu returned ${p.data.length} bytes for gfn ${hex(p.gfn)}, expected ${PAGE_SIZE}`);
      this.state[idx] = write ? PageState.Modified : PageState.Shared;
    }
    const restarted = this.epoch !== '' && res.epoch !== this.epoch;
    if (res.epoch !== this.epoch) this.newEpoch(res.epoch);
    this.installed = Math.max(this.installed, res.grant);
    ready();
    this.releaseDeferred();
    if (restarted) void this.reregister('a fetch reply carries a new mmu epoch');
  }

  /** A call to mmu that waits out an mmu restart (UNAVAILABLE) for up to outageMs. The
   *  calls given here are idempotent: a repeated fetch grants again, a repeated
   *  write-back finds its pages already home. */
  private async retry<T>(what: string, fn: (deadlineMs: number) => Promise<T>, outageMs = this.o.outageMs ?? 30_000): Promise<T> {
    const until = Date.now() + outageMs;
    for (;;) {
      try {
        const res = await fn(this.o.exitDeadlineMs);
        if (this.mmuAway) {
          this.mmuAway = false;
          this.log.info({ mmu: this.o.pages.address }, 'mmu is back');
        }
        return res;
      } catch (e) {
        if (!(e instanceof RpcError) || e.code !== 'UNAVAILABLE' || Date.now() > until || this.closed) throw e;
        if (!this.mmuAway) {
          this.mmuAway = true;
          this.log.warn({ mmu: this.o.pages.address, what, err: e.message }, 'mmu unavailable; the vCPU waits for it');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  // --- recalls -----------------------------------------------------------------------

  /** Answers one of mmu's recalls; never rejects (a failure is an answer naming it). */
  private async onRecall(req: MmuV1.RecallRequest__Output): Promise<MmuV1.RecallReply> {
    // mmu's ProbeRecall: the transport alone, nothing for the worker to do.
    if (req.gfns.length === 0) return { id: req.id, pages: [] };
    const key = `${req.epoch}:${req.id}`;
    const kept = this.answered.get(key);
    if (kept) return kept;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.recall(req);
      this.inflight.set(key, p);
      void p
        .then((reply) => {
          this.answered.set(key, reply);
          if (this.answered.size > ANSWERS_KEPT) this.answered.delete(this.answered.keys().next().value!);
        })
        .catch(() => undefined)
        .finally(() => this.inflight.delete(key));
    }
    try {
      return await p;
    } catch (e) {
      return { id: req.id, error: `vm "${this.o.vmId}" page cache "${this.holder}": ${(e as Error).message}` };
    }
  }

  private ready(req: MmuV1.RecallRequest__Output): boolean {
    return req.grant === 0 || (req.epoch === this.epoch && req.grant <= this.installed);
  }

  private releaseDeferred(): void {
    const waiting = this.deferred;
    this.deferred = [];
    for (const d of waiting) {
      if (this.ready(d.req)) d.go();
      else this.deferred.push(d);
    }
  }

  private async recall(req: MmuV1.RecallRequest__Output): Promise<MmuV1.RecallReply> {
    if (req.vmId !== this.o.vmId || req.holder !== this.holder) throw new Error(`recall for vm "${req.vmId}" holder "${req.holder}" reached the wrong cache`);
    const idx = req.gfns.map((g) => g - this.baseGfn);
    for (const i of idx) if (!(i >= 0 && i < this.state.length)) throw new Error(`recall of gfn ${hex(i + this.baseGfn)} outside this VM's RAM`);
    if (!this.ready(req)) await new Promise<void>((go) => this.deferred.push({ req, go }));
    const invalidate = req.mode === 'RECALL_INVALIDATE';
    const clean = req.mode === 'RECALL_CLEAN';
    const updates = req.mode === 'RECALL_UPDATE' ? this.updatesOf(req) : undefined;
    let pages: RecallAnswerMsg['pages'];
    if (updates && (this.workerGone || this.writingBack)) {
      // Its pages are on their way home with the bytes they had: an update would be lost
      // when they land. Answered as not updated, mmu takes them (RECALL_INVALIDATE) instead.
      pages = idx.map((i) => ({ index: i, was: this.state[i]! }));
    } else if (!this.workerGone) {
      try {
        pages = (await this.askWorker(idx, invalidate, clean, updates)).pages;
      } catch {
        pages = this.serveHere(idx, invalidate);
      }
    } else pages = this.serveHere(idx, invalidate);
    this.stats.recalls++;
    this.stats.recalledPages += pages.length;
    const out: MmuV1.RecalledPage[] = [];
    for (const p of pages) {
      if (invalidate) this.state[p.index] = PageState.Invalid;
      else if (p.was === PageState.Modified && !clean && !updates) this.state[p.index] = PageState.Shared;
      const zero = p.data !== undefined && isZero(p.data);
      out.push({
        gfn: p.index + this.baseGfn,
        was: heldStateOf(p.was as PageStateValue),
        zero,
        data: p.data && !zero ? p.data : Buffer.alloc(0),
        updated: p.updated === true,
      });
    }
    if (updates) this.stats.updates++;
    return { id: req.id, pages: out };
  }

  /** An update order's bytes as page indexes, each checked to lie in one page it names. */
  private updatesOf(req: MmuV1.RecallRequest__Output): PageUpdateMsg[] {
    return req.updates.map((u) => {
      const index = u.gfn - this.baseGfn;
      if (!req.gfns.includes(u.gfn) || !(u.offset >= 0 && u.offset + u.data.length <= PAGE_SIZE)) {
        throw new Error(`update of gfn ${hex(u.gfn)} at offset ${u.offset} (${u.data.length} bytes) is not within a page the recall names`);
      }
      return { index, offset: u.offset, data: u.data };
    });
  }

  /** Posts the order, counts it and rings: the worker takes it at its next safepoint. */
  private askWorker(pages: number[], invalidate: boolean, clean: boolean, updates?: PageUpdateMsg[]): Promise<RecallAnswerMsg> {
    const id = ++this.orderSeq;
    const p = new Promise<RecallAnswerMsg>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.port.postMessage({ id, pages, invalidate, clean, ...(updates && { updates }) } satisfies RecallOrderMsg);
    this.o.recallDoorbell.ringRecall();
    return p;
  }

  /** The worker is gone (the vCPU stopped): its RAM and states are this thread's now. */
  private serveHere(idx: number[], invalidate: boolean): RecallAnswerMsg['pages'] {
    void invalidate;
    return idx.map((i) => {
      const was = this.state[i]!;
      return was === PageState.Modified ? { index: i, was, data: this.o.ram.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE) } : { index: i, was };
    });
  }

  /** The worker thread ended: orders it did not answer are answered here. An answer it
   *  posted just before is still on its way; a turn of the event loop lets it arrive. */
  workerExited(): void {
    this.workerGone = true;
    setImmediate(() => {
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        w.reject(new Error('vCPU thread ended'));
      }
    });
  }

  // --- mmu restarts ------------------------------------------------------------------

  private newEpoch(epoch: string): void {
    this.epoch = epoch;
    this.installed = 0;
    // Recalls from a dead mmu wait for nothing any more: nobody is listening for them.
    this.deferred = this.deferred.filter((d) => d.req.epoch === epoch);
  }

  private onMmuStarted(epoch: string): void {
    if (!epoch || epoch === this.epoch || this.closed) return;
    const had = this.epoch !== '' || this.state.some((s) => s !== PageState.Invalid);
    this.newEpoch(epoch);
    if (had) void this.reregister('mmu announced a new epoch');
  }

  /** Tells mmu every page this cache holds (after mmu lost its directory). */
  reregister(why: string): Promise<void> {
    if (this.reregistering) {
      this.reregisterAgain = true;
      return this.reregistering;
    }
    this.reregistering = (async () => {
      do {
        this.reregisterAgain = false;
        const modified: number[] = [];
        const shared: number[] = [];
        this.state.forEach((s, i) => {
          if (s === PageState.Modified) modified.push(i + this.baseGfn);
          else if (s === PageState.Shared) shared.push(i + this.baseGfn);
        });
        await this.retry('Reregister', (deadlineMs) => this.o.pages.reregister(modified, shared, deadlineMs));
        this.stats.reregistrations++;
        this.log.info({ why, modified: modified.length, shared: shared.length }, 'page cache re-registered with mmu');
      } while (this.reregisterAgain);
    })()
      .catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'cannot re-register the page cache with mmu'))
      .finally(() => (this.reregistering = undefined));
    return this.reregistering;
  }

  // --- stop --------------------------------------------------------------------------

  /** The vCPU stopped: every page goes home (Modified ones with their bytes, all-zero
   *  ones as zero, Shared ones as a clean return), and mmu forgets this cache. */
  async writeBackAll(): Promise<void> {
    this.writingBack = true;
    const all: number[] = [];
    this.state.forEach((s, i) => s !== PageState.Invalid && all.push(i));
    for (let at = 0; at === 0 || at < all.length; at += WRITEBACK_RUN) {
      const run = all.slice(at, at + WRITEBACK_RUN);
      const pages: MmuV1.Page[] = run.map((i) => {
        const gfn = i + this.baseGfn;
        if (this.state[i] !== PageState.Modified) return { gfn, keep: true };
        const page = this.o.ram.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
        return isZero(page) ? { gfn, zero: true } : { gfn, data: Buffer.from(page) };
      });
      const last = at + WRITEBACK_RUN >= all.length;
      // A stopping vCPU waits less for mmu than a running one: its cpu may be stopping too.
      await this.retry('WriteBack', (deadlineMs) => this.o.pages.writeBack(pages, last, this.epoch, Math.max(deadlineMs, 10_000)), WRITEBACK_OUTAGE_MS);
      for (const i of run) this.state[i] = PageState.Invalid;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.port.close();
  }
}
