// mmu's recalls for one page cache on a stream the cache keeps open to mmu
// (Mmu.RecallStream; mmu's recall-stream.ts says why). The cache also listens on NATS,
// where mmu sends its recalls while this stream is not open, so a stream that breaks
// (mmu restarting, a cpu:mmu partition) costs the time until it is open again, never a
// recall: the order that was on it goes over NATS, under the same id, and the cache keeps
// its answers by id.
import type * as grpc from '@grpc/grpc-js';
import type { MmuV1 } from '@splitvisor/proto';
import { RpcError, type RpcClient } from '@splitvisor/rpc';

/** Pause before the stream is opened again: doubled each time, up to the second value;
 *  back to the first once a stream lived REOPEN_RESET_MS. */
const REOPEN_MS = [100, 2000] as const;
const REOPEN_RESET_MS = 5000;

export type RecallAnswerer = (req: MmuV1.RecallRequest__Output) => Promise<MmuV1.RecallReply>;

export class RecallStreamClient {
  private stream: grpc.ClientDuplexStream<MmuV1.RecallAnswer, MmuV1.RecallOrder__Output> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number = REOPEN_MS[0];
  private closed = false;
  /** Streams opened, and orders answered on them. */
  readonly counts = { opened: 0, answered: 0 };
  /** Why the last stream ended, or why none is kept (UNIMPLEMENTED: an mmu without it). */
  lastError: string | undefined;

  constructor(
    private readonly mmu: RpcClient<MmuV1.MmuClient>,
    private readonly vmId: string,
    private readonly holder: string,
    private readonly answer: RecallAnswerer,
  ) {
    this.open();
  }

  /** Whether a stream is open now (mmu may still be between its hello and its first order). */
  get streaming(): boolean {
    return this.stream !== undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
  }

  private open(): void {
    if (this.closed) return;
    const s = this.mmu.raw.RecallStream();
    const openedAt = Date.now();
    this.stream = s;
    this.counts.opened++;
    s.write({ vmId: this.vmId, holder: this.holder });
    s.on('data', (o: MmuV1.RecallOrder__Output) => {
      if (!o.request) return; // nothing to answer
      void this.answer(o.request).then((reply) => {
        if (this.stream !== s) return; // broken meanwhile: mmu asks again over NATS
        this.counts.answered++;
        s.write({ seq: o.seq, reply });
      });
    });
    const ended = (e: RpcError) => {
      if (this.stream !== s) return;
      this.stream = undefined;
      this.lastError = e.message;
      s.cancel();
      if (this.closed) return;
      // An mmu that does not take streams recalls over NATS alone: nothing to reopen.
      if (e.code === 'UNIMPLEMENTED') return;
      if (Date.now() - openedAt >= REOPEN_RESET_MS) this.delayMs = REOPEN_MS[0];
      this.timer = setTimeout(() => this.open(), this.delayMs);
      this.timer.unref();
      this.delayMs = Math.min(this.delayMs * 2, REOPEN_MS[1]);
    };
    s.on('error', (e: grpc.ServiceError) => ended(RpcError.fromGrpc(e)));
    s.on('end', () => ended(new RpcError('UNAVAILABLE', 'mmu ended the stream')));
  }
}
