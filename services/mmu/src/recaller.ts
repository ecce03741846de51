// Recalls over NATS request/reply: the one call against the dependency direction
// (DESIGN.md). One subject per VM and holder, so only that page cache hears it. Where the
// holder keeps a stream open to mmu, recall-stream.ts carries them instead.
import type { Bus } from '@splitvisor/bus';
import { subjects } from '@splitvisor/bus';
import { RecallReplyCodec, RecallRequestCodec, pageStateOf, type MmuV1 } from '@splitvisor/proto';
import type { RecallMode } from './directory.js';
import type { RecallOrder, RecalledPage, Recaller } from './vm/recalls.js';

const MODES = {
  downgrade: 'RECALL_DOWNGRADE',
  invalidate: 'RECALL_INVALIDATE',
  clean: 'RECALL_CLEAN',
  update: 'RECALL_UPDATE',
} as const satisfies Record<RecallMode, MmuV1.RecallMode__Output>;

/** An order as the wire's RecallRequest (both transports carry the same message). */
export function recallRequestOf(o: RecallOrder): MmuV1.RecallRequest {
  return { ...o, mode: MODES[o.mode], updates: o.updates ?? [] };
}

/** A holder's answer as the pages it gave back; an answer that names an error throws it. */
export function recalledPagesOf(reply: MmuV1.RecallReply__Output): RecalledPage[] {
  if (reply.error) throw new Error(reply.error);
  return reply.pages.map((p) => ({ gfn: p.gfn, was: pageStateOf(p.was), data: p.data, zero: p.zero, updated: p.updated }));
}

export class NatsRecaller implements Recaller {
  constructor(
    private readonly bus: Bus,
    /** A holder answers at its next safepoint, within a batch (~10 ms); past this the
     *  access that needed the page fails UNAVAILABLE rather than hangs. */
    private readonly timeoutMs = 3000,
    private readonly attempts = 3,
  ) {}

  async recall(o: RecallOrder): Promise<RecalledPage[]> {
    const subject = subjects.memRecall(o.vmId, o.holder);
    const req = recallRequestOf(o);
    // Nobody listening (503) is not asked again: that holder is gone.
    const reply = await askAgainOnTimeout(this.attempts, () => this.bus.request(subject, RecallRequestCodec, req, RecallReplyCodec, this.timeoutMs));
    return recalledPagesOf(reply);
  }
}

/** `ask`, asked again while it times out, `attempts` times in all; any other failure is
 *  final. A lost answer is asked for again under the same id on either transport: the
 *  page cache has already given the pages up and keeps its answers by id, so the bytes are
 *  not lost. */
export async function askAgainOnTimeout<T>(attempts: number, ask: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ask();
    } catch (e) {
      if (attempt >= attempts || !/timeout/i.test((e as Error).message)) throw e;
    }
  }
}
