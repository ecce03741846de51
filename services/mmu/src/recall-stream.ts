// Recalls on the streams page caches keep open to mmu (Mmu.RecallStream). A recall is the
// one call against the dependency direction (DESIGN.md): NATS request/reply carries it
// when nothing else does, two hops through the server, ~0.65 ms of a ~1 ms recall on this
// 2-core machine. A stream the holder opened carries the order down and the answer up as
// messages on one HTTP/2 connection, as a vCPU's exits travel to io-backend.
//
// The stream changes the transport and nothing else:
// - An order on a stream waits as long as on NATS and is asked again as often, under the
//   same id (the holder keeps its answers by id, so pages it already gave up are not lost).
// - The fault plane's recall faults (`recall:<vm>`, and a cpu:mmu partition) reach it
//   through the bus's gate on the recall subject, as they reach the NATS request.
// - A stream that breaks, or is replaced by the holder's new one, fails over what it
//   carried to NATS at once, where the holder also listens.
import type * as grpc from '@grpc/grpc-js';
import { subjects, type Bus } from '@splitvisor/bus';
import type { MmuV1 } from '@splitvisor/proto';
import { invalidArgument, notFound, vmIdArg, type RpcError } from '@splitvisor/rpc';
import { askAgainOnTimeout, recallRequestOf, recalledPagesOf } from './recaller.js';
import type { RecallOrder, RecalledPage, Recaller } from './vm/recalls.js';

type Call = grpc.ServerDuplexStream<MmuV1.RecallAnswer__Output, MmuV1.RecallOrder>;

/** The stream went away under an order: the order goes to NATS. */
class StreamGone extends Error {}

interface Pending {
  resolve(r: MmuV1.RecallReply__Output): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** One holder's open stream. */
class HolderStream {
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private gone = false;

  constructor(
    readonly call: Call,
    readonly vmId: string,
    readonly holder: string,
  ) {}

  /** Sends `req` as order seq; the answer, or StreamGone, or a timeout after `timeoutMs`. */
  ask(req: MmuV1.RecallRequest, timeoutMs: number, send: boolean, twice: boolean): Promise<MmuV1.RecallReply__Output> {
    if (this.gone) return Promise.reject(new StreamGone());
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(seq)) reject(new Error(`TIMEOUT: no answer on the recall stream within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      // A dropped order is written nowhere: its asker waits out the timeout, as on NATS.
      if (send) this.call.write({ seq, request: req });
      if (send && twice) this.call.write({ seq, request: req });
    });
  }

  answer(a: MmuV1.RecallAnswer__Output): void {
    const seq = a.seq;
    const p = this.pending.get(seq);
    if (!p) return; // timed out (asked again under a new seq), or a duplicate's answer
    this.pending.delete(seq);
    clearTimeout(p.timer);
    if (a.reply) p.resolve(a.reply);
    else p.reject(new Error(`the answer to order ${seq} carries no reply`));
  }

  /** No more orders here; those in flight go to NATS; the call ends. */
  close(): void {
    this.gone = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new StreamGone());
    }
    this.pending.clear();
    if (!this.call.writableEnded) this.call.end();
  }
}

export interface RecallStreamOptions {
  /** Whether mmu has the VM (a hello naming another is refused NOT_FOUND). */
  hasVm(vmId: string): boolean;
  /** As NatsRecaller's: how long an order waits, how often it is asked. */
  timeoutMs?: number;
  attempts?: number;
}

/** mmu's recaller: a holder's stream while one is open, NATS (`fallback`) otherwise. */
export class StreamRecaller implements Recaller {
  private readonly streams = new Map<string, HolderStream>();
  private readonly timeoutMs: number;
  private readonly attempts: number;
  /** Per VM: recalls answered on a stream. */
  private readonly streamedByVm = new Map<string, number>();

  constructor(
    private readonly fallback: Recaller,
    private readonly bus: Bus,
    private readonly opts: RecallStreamOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.attempts = opts.attempts ?? 3;
  }

  async recall(o: RecallOrder): Promise<RecalledPage[]> {
    const s = this.streams.get(keyOf(o.vmId, o.holder));
    if (!s) return this.fallback.recall(o);
    const subject = subjects.memRecall(o.vmId, o.holder);
    const req = recallRequestOf(o);
    const bytes = 64 + (o.updates ?? []).reduce((n, u) => n + u.data.length + 16, 0);
    let reply: MmuV1.RecallReply__Output;
    try {
      reply = await askAgainOnTimeout(this.attempts, async () => {
        const gate = await this.bus.faultGate(subject, bytes);
        return s.ask(req, this.timeoutMs, !gate.drop, gate.duplicate);
      });
    } catch (e) {
      if (e instanceof StreamGone) return this.fallback.recall(o);
      throw e;
    }
    // Probes (id 0) are not recalls: they are counted apart (Recalls.probe).
    if (o.id !== 0) this.streamedByVm.set(o.vmId, (this.streamedByVm.get(o.vmId) ?? 0) + 1);
    return recalledPagesOf(reply);
  }

  streamed(vmId: string): number {
    return this.streamedByVm.get(vmId) ?? 0;
  }

  /** Whether a holder's recalls travel on its stream now. */
  streaming(vmId: string, holder: string): boolean {
    return this.streams.has(keyOf(vmId, holder));
  }

  /** Mmu.RecallStream: the hello registers the stream (replacing an older one of the same
   *  holder), each later message answers an order. A first message that is no hello, or
   *  names a VM mmu does not have, ends the call with the reason. */
  serve(call: Call): void {
    let stream: HolderStream | undefined;
    const refuse = (e: RpcError) => {
      call.emit('error', e.toServiceError());
    };
    call.on('data', (a: MmuV1.RecallAnswer__Output) => {
      if (stream) return stream.answer(a);
      let vmId: string;
      let holder: string;
      try {
        if (a.reply || a.seq !== 0) throw invalidArgument('RecallStream: the first message is the hello (vm_id and holder), not an answer');
        vmId = vmIdArg(a.vmId, 'vm_id');
        holder = vmIdArg(a.holder, 'holder');
      } catch (e) {
        return refuse(e as RpcError);
      }
      if (!this.opts.hasVm(vmId)) return refuse(notFound(`RecallStream: vm "${vmId}" is not here`));
      stream = new HolderStream(call, vmId, holder);
      const key = keyOf(vmId, holder);
      const old = this.streams.get(key);
      this.streams.set(key, stream);
      old?.close();
    });
    const drop = () => {
      if (!stream) return;
      stream.close();
      const key = keyOf(stream.vmId, stream.holder);
      if (this.streams.get(key) === stream) this.streams.delete(key);
    };
    call.on('end', drop);
    call.on('error', drop); // the holder went away, or the call was refused
    call.on('close', drop);
  }

  /** The VM is gone: its holders' streams end (they reopen for a VM of the same name). */
  releaseVm(vmId: string): void {
    this.streamedByVm.delete(vmId);
    for (const [key, s] of this.streams) {
      if (s.vmId !== vmId) continue;
      this.streams.delete(key);
      s.close();
    }
  }
}

function keyOf(vmId: string, holder: string): string {
  return `${vmId}/${holder}`;
}
