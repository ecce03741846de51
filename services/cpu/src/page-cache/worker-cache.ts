// The worker thread's half of the page cache: the hart's page states (GuestRam.pageState)
// are this thread's alone, so every change to them happens here: installing a fetch and
// carrying out a recall at a safepoint.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { MAX_FETCH_PAGES } from '@splitvisor/platform';
import { PageState, type GuestRam } from '@splitvisor/riscv';
import type { ExitChannelWorker } from '../exit-channel/index.js';
import type { RecallAnswerMsg, RecallOrderMsg } from './protocol.js';

const PAGE = 4096;
/** Naps of 50 µs to wait for an order counted but not yet receivable (at most ~2 ms). */
const DRAIN_SPINS = 40;
/** While an order is counted but not yet receivable, how often an exit's wait looks again. */
const ORDER_RETRY_MS = 1;
/** Instructions per batch while recalls come (~0.5 ms of a polling guest), and for how many
 *  batches after the last one: a device's requests come in bursts, each waiting for the
 *  vCPU's next safepoint, and a full batch is up to ~10 ms. */
const RECALL_BATCH = 20_000;
const RECALL_HOT_BATCHES = 200;

export class WorkerPageCache {
  private taken = 0;
  private readonly pending: RecallOrderMsg[] = [];
  /** Where the last run ended and how long it was: a miss right there is a stream. */
  private runEnd = -1;
  private lastRun = 0;
  /** Recall orders carried out. */
  served = 0;
  /** Batches left to run short (see RECALL_BATCH). */
  private hot = 0;
  /** A word nobody notifies, to nap on. */
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));
  /** Told the pages a recall order lowered, after it is served (the hw monitor unmaps them
   *  from the G-stage). */
  onLowered: ((pages: readonly number[]) => void) | undefined;

  constructor(
    private readonly ram: GuestRam,
    private readonly channel: ExitChannelWorker,
    private readonly port: MessagePort | undefined,
  ) {}

  /** Pages to ask for with `page`: it and the Invalid ones after it, up to `max` (one
   *  round trip for the run). A run never upgrades a Shared neighbour: a page the guest
   *  only reads stays shared, with devices and with the dirty log. A miss where the last
   *  run ended is a stream (a first touch, a copy, U-Boot zeroing its heap): its runs
   *  double up to mmu's limit (MAX_FETCH_PAGES), as readahead grows on a sequential read.
   *  (Read or write, the rule is the same.) */
  runLength(page: number, _write: boolean, max: number): number {
    const limit = page === this.runEnd ? Math.min(MAX_FETCH_PAGES, Math.max(max, this.lastRun * 2)) : max;
    const states = this.ram.pageState;
    let n = 1;
    while (n < limit && page + n < states.length && states[page + n] === PageState.Invalid) n++;
    this.runEnd = page + n;
    this.lastRun = n;
    return n;
  }

  /** The host has put the run's bytes in RAM: Shared copies for a read, the only ones
   *  for a write. (Code of pages that were Invalid was dropped before the miss, and a
   *  Shared page's bytes did not change.) */
  install(page: number, count: number, write: boolean): void {
    const s = write ? PageState.Modified : PageState.Shared;
    for (let i = 0; i < count; i++) this.ram.pageState[page + i] = s;
  }

  /** Blocks until the host answers the exit just posted, carrying out recalls that ring
   *  meanwhile: the host's answer may itself wait for one (a DMA behind this fetch, a
   *  device that DMAs while serving this MMIO access). */
  waitReply(): void {
    const ch = this.channel;
    for (;;) {
      // Take the doorbell first: an order rung later rings again and ends the wait below;
      // one rung earlier was counted before it rang, so it is seen now.
      ch.takeDoorbell();
      if (ch.answered) return;
      if (ch.recallsRung !== this.taken) this.drain();
      // The host sends an order that needs this exit's answer only after that answer is
      // in RAM and the channel says so; such an order waits until the worker has installed
      // the answer (the next safepoint). Every order still pending while this exit is
      // unanswered is older than its answer, so it is served now, those left over from the
      // exit before included: a miss right after a miss (a copy running into the next
      // page) reaches no safepoint in between, and mmu may be holding this exit's answer
      // until exactly that order is answered.
      if (this.pending.length > 0 && !ch.answered) this.servePending();
      // An order counted but not yet receivable (drain gave up on it) rings no more: the
      // host's answer may be waiting for exactly that order, so look again soon rather than
      // sleep until an answer that cannot come.
      const behind = ch.recallsRung !== this.taken;
      ch.waitForAnswer(behind ? ORDER_RETRY_MS : undefined);
    }
  }

  /** True when recall orders wait (for a worker about to sleep: read the wake counter
   *  first, then ask, so an order posted in between ends the sleep). */
  ordersWaiting(): boolean {
    return this.pending.length > 0 || this.channel.recallsRung !== this.taken;
  }

  /** The budget of the next batch: short while recalls come, so the next one waits less
   *  for a safepoint; `budget` otherwise. */
  budget(budget: number): number {
    if (this.hot === 0) return budget;
    this.hot--;
    return Math.min(budget, RECALL_BATCH);
  }

  /** Between batches, parked, after WFI: carries out every recall order waiting. */
  safepoint(): void {
    if (this.channel.recallsRung !== this.taken) this.drain();
    if (this.pending.length) this.servePending();
  }

  private drain(): void {
    if (!this.port) return;
    let spins = 0;
    while (this.taken !== this.channel.recallsRung) {
      const m = receiveMessageOnPort(this.port);
      if (!m) {
        // Counted, so posted, but not yet receivable here: it is on its way between the
        // threads. Give it a moment rather than leave it to a safepoint that may be a
        // parked vCPU's second away.
        if (++spins > DRAIN_SPINS) return;
        Atomics.wait(this.nap, 0, 0, 0.05);
        continue;
      }
      this.pending.push(m.message as RecallOrderMsg);
      this.taken++;
    }
  }

  private servePending(): void {
    while (this.pending.length) this.serve(this.pending.shift()!);
  }

  private serve(o: RecallOrderMsg): void {
    const states = this.ram.pageState;
    const answer: RecallAnswerMsg = { id: o.id, pages: [] };
    const transfer: ArrayBuffer[] = [];
    const lowered: number[] | undefined = this.onLowered ? [] : undefined;
    for (const p of o.pages) {
      const was = states[p]!;
      const out: RecallAnswerMsg['pages'][number] = { index: p, was };
      if (o.updates) {
        // A device's write, at this one instant of the guest: into the copy it holds, which
        // it keeps (a page not held takes the bytes from mmu at its next fetch).
        if (was !== PageState.Invalid) {
          for (const u of o.updates) if (u.index === p) this.ram.bytes.set(u.data, p * PAGE + u.offset);
          this.ram.invalidateCode(p);
          out.updated = true;
        }
        answer.pages.push(out);
        continue;
      }
      if (was === PageState.Modified) {
        out.data = this.ram.bytes.slice(p * PAGE, (p + 1) * PAGE);
        transfer.push(out.data.buffer as ArrayBuffer);
      }
      if (o.invalidate) {
        states[p] = PageState.Invalid;
        this.ram.invalidateCode(p);
      } else if (was === PageState.Modified && !o.clean) states[p] = PageState.Shared;
      if (lowered && states[p] !== was) lowered.push(p);
      answer.pages.push(out);
    }
    if (lowered && lowered.length > 0) this.onLowered!(lowered);
    this.served++;
    this.hot = RECALL_HOT_BATCHES;
    this.port!.postMessage(answer, transfer);
  }
}
