// Recalls over NATS request/reply: the one call against the dependency direction
// (DESIGN.md). One subject per VM and holder, so only that page cache hears it.
import type { Bus } from '@splitvisor/bus';
import { subjects } from '@splitvisor/bus';
import { RecallReplyCodec, RecallRequestCodec, type MmuV1 } from '@splitvisor/proto';
import { Held, type HeldValue } from './directory.js';
import type { RecallOrder, RecalledPage, Recaller } from './vm-memory.js';

const HELD: Record<MmuV1.HeldState__Output, HeldValue> = {
  HELD_INVALID: Held.Invalid,
  HELD_SHARED: Held.Shared,
  HELD_MODIFIED: Held.Modified,
};

export class NatsRecaller implements Recaller {
  constructor(
    private readonly bus: Bus,
    /** A holder answers at its next safepoint, within a batch (~10 ms); past this the
     *  access that needed the page fails UNAVAILABLE rather than hangs. */
    private readonly timeoutMs = 3000,
  ) {}

  async recall(o: RecallOrder): Promise<RecalledPage[]> {
    const reply = await this.bus.request(
      subjects.memRecall(o.vmId, o.holder),
      RecallRequestCodec,
      { ...o, mode: o.mode === 'downgrade' ? 'RECALL_DOWNGRADE' : 'RECALL_INVALIDATE' },
      RecallReplyCodec,
      this.timeoutMs,
    );
    if (reply.error) throw new Error(reply.error);
    return reply.pages.map((p) => ({ gfn: p.gfn, was: HELD[p.was] ?? Held.Invalid, data: p.data, zero: p.zero }));
  }
}
