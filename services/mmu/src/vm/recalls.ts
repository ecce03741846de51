// The recall transport as one VM's coherence sees it: the one call against the dependency
// direction (DESIGN.md, "The four services"), NATS request/reply in the service, a model
// of a page cache in the tests. Every order is numbered, counted and timed here, and the
// transport can be probed on its own.
import { PAGE_SIZE, hex, summarize, type LatencySummary, type PageStateValue } from '@splitvisor/platform';
import type { RecallMode } from '../directory.js';
import { invalid, unavailable } from '../errors.js';

/** Pages in one recall message: 256 KiB of answer, well under NATS's 1 MiB payload. */
export const RECALL_RUN = 64;
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
  /** mode 'update': the bytes to write into the holder's copies of `gfns`. */
  updates?: PageUpdate[];
}

/** Bytes a device wrote at `offset` of page `gfn` (within the page). */
export interface PageUpdate {
  gfn: number;
  offset: number;
  data: Uint8Array;
}

export interface RecalledPage {
  gfn: number;
  /** The holder's state before the recall. */
  was: PageStateValue;
  /** The page's bytes when `was` is Modified (or `zero`). */
  data?: Uint8Array;
  zero?: boolean;
  /** mode 'update': the holder wrote the bytes into its copy and kept it. */
  updated?: boolean;
}

export interface Recaller {
  recall(order: RecallOrder): Promise<RecalledPage[]>;
  /** Of a VM's recalls, how many were answered on a holder's stream (a recaller that
   *  has streams says). */
  streamed?(vmId: string): number;
}

/** A recaller for an mmu nobody caches from: any recall is a bug worth a clear error. */
export const NO_RECALLS: Recaller = {
  recall: (o) => Promise.reject(new Error(`no recall transport (holder "${o.holder}")`)),
};

export class Recalls {
  private seq = 0;
  private sent = 0;
  private pages = 0;
  private updateOrders = 0;
  private readonly latency = new Float64Array(LATENCY_RING);
  private latencyCount = 0;

  constructor(
    private readonly recaller: Recaller,
    private readonly vmId: string,
    private readonly epoch: string,
  ) {}

  /** Asks `holder` for `gfns` (at most RECALL_RUN); a transport failure is `unavailable`,
   *  naming the holder and the pages. */
  async send(holder: string, gfns: number[], mode: RecallMode, grant: number, updates?: PageUpdate[]): Promise<RecalledPage[]> {
    const order: RecallOrder = { vmId: this.vmId, holder, gfns, mode, grant, epoch: this.epoch, id: ++this.seq, ...(updates && { updates }) };
    let answer: RecalledPage[];
    const t0 = performance.now();
    try {
      answer = await this.recaller.recall(order);
      this.latency[this.latencyCount++ % LATENCY_RING] = (performance.now() - t0) * 1000;
    } catch (e) {
      throw unavailable(
        `vm "${this.vmId}": page cache "${holder}" did not give back ${gfns.length} page(s) from ${hex(gfns[0]! * PAGE_SIZE)} ` +
          `(${mode}): ${(e as Error).message}`,
      );
    }
    this.sent++;
    this.pages += gfns.length;
    if (mode === 'update') this.updateOrders++;
    return answer;
  }

  /** `count` empty recalls to `holder`, one after another: the transport under a recall
   *  (nothing is queued behind the VM's other operations, nothing changes). */
  async probe(holder: string, count: number): Promise<LatencySummary> {
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
  latencySummary(reset = false): LatencySummary {
    const n = Math.min(this.latencyCount, LATENCY_RING);
    const out = summarize(this.latency.subarray(0, n));
    if (reset) this.latencyCount = 0;
    return out;
  }

  /** updateRecalls: recalls that carried a device's bytes to a holder (mode 'update');
   *  streamedRecalls: recalls (probes too) answered on a holder's stream. */
  get counts(): { recalls: number; recalledPages: number; updateRecalls: number; streamedRecalls: number } {
    return { recalls: this.sent, recalledPages: this.pages, updateRecalls: this.updateOrders, streamedRecalls: this.recaller.streamed?.(this.vmId) ?? 0 };
  }
}
