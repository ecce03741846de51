// One vCPU's MMIO exits on one long-lived gRPC stream to io-backend (IoBackend.MmioStream),
// as KVM hands a vCPU's exits over its one kvm_run structure rather than a call per exit.
// The vCPU's posted-write deliveries travel on it too, so everything the vCPU sends
// io-backend is in one ordered pipe: replies come back in request order, each carrying
// its request's seq. Measured on this
// machine, a message on an open stream round-trips in ~25 µs where a unary call takes
// ~150-250 µs (HTTP/2 stream setup, headers and trailers every time).
//
// Failures are answers, but io-backend going away is not one (issue 15): when the stream
// breaks without an answer from io-backend (UNAVAILABLE: it was killed, it is stopping, the
// connection is refused; CANCELLED by the server going down), the stream is opened again
// after a short pause and every exit in flight is sent again, in order, until the exit's
// deadline (SPLITVISOR_EXIT_DEADLINE_MS). A restart quicker than that is a stall of the
// vCPU, not a failed VM: the restarted io-backend takes the VM's devices over from the
// xenbus tree (its xenbus-backend.ts) and answers. Past the deadline the exit fails naming
// io-backend, the attempts and the last error. An answer of io-backend's own (NOT_FOUND, a
// reply out of order, INVALID_ARGUMENT) is final.
//
// What is sent again, and why that is safe. An exit sent again may have reached the old
// io-backend and been applied before it died, its reply lost, so it can be applied twice.
// A device restored from its saved state (its setup) sees the access once more:
// - reads with a side effect: UART RBR (the byte is lost with the old io-backend's receive
//   queue anyway; the new one's queue is empty, the read gives 0), IIR (acknowledges a
//   THR-empty interrupt the restored UART raises again when IER.THRI is on), LSR (clears
//   error bits nobody restored): each answers from the restored state, as a first read would;
// - UART THR: one console byte twice at most (a byte of the old io-backend's console that
//   was not yet stored is lost instead: at most its 10 ms of coalescing). IER, LCR, MCR,
//   FCR, SCR, the divisor latch: writing the same value twice leaves the same state (IER's
//   THR-empty is re-armed only by a change of THRI, so no extra interrupt either);
// - virtio Status, feature words and selectors, QueueSel, QueueNum, queue addresses,
//   QueueReady: idempotent (the same value again is the same state; QueueReady=1 on a ready
//   queue is ignored); Status 0 (reset) twice is one reset; InterruptACK of bits already
//   acknowledged clears nothing more; QueueNotify twice makes the device look at a queue
//   it drained (as a repeated doorbell does);
// - sifive_test (poweroff, reset): the VM stops either way; the cpu reports its exit;
// - posted writes riding on the exit: UART THR (above) and QueueNotify (above).
// A posted-only delivery (PostWrites) is sent again the same way.
import type * as grpc from '@grpc/grpc-js';
import type { IoV1 } from '@splitvisor/proto';
import { RpcError, type RpcClient } from '@splitvisor/rpc';

interface Pending {
  seq: number;
  req: Omit<IoV1.MmioRequest, 'seq'>;
  resolve(r: IoV1.MmioReply__Output): void;
  reject(e: RpcError): void;
  timer: NodeJS.Timeout;
  /** Times it was sent (more than 1: io-backend went away while it was in flight). */
  sent: number;
}

/** How a broken stream says io-backend gave no answer (as opposed to an answer of its own). */
const NO_ANSWER: ReadonlySet<string> = new Set(['UNAVAILABLE', 'CANCELLED']);
/** Pause before the stream is opened again: doubled each time, up to the second value. */
const REOPEN_MS = [50, 250] as const;

export class MmioStream {
  private stream: grpc.ClientDuplexStream<IoV1.MmioRequest, IoV1.MmioReply__Output> | undefined;
  /** In flight, oldest first (an exit, or a posted delivery queued behind one). */
  private pending: Pending[] = [];
  private seq = 0;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenMs: number = REOPEN_MS[0];
  /** Why the last stream broke without an answer (cleared by the next reply). */
  private outage: RpcError | undefined;
  /** Streams opened (1 when nothing ever broke). */
  opened = 0;
  /** Exits sent again after the stream broke without an answer. */
  retried = 0;

  constructor(
    private readonly io: RpcClient<IoV1.IoBackendClient>,
    private readonly deadlineMs: number,
  ) {}

  /** One exit: resolves with io-backend's reply, or rejects naming why there is none. */
  call(req: Omit<IoV1.MmioRequest, 'seq'>): Promise<IoV1.MmioReply__Output> {
    if (this.closed) return Promise.reject(new RpcError('CANCELLED', 'the vCPU stopped', this.peer));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.expire(seq), this.deadlineMs);
      this.pending.push({ seq, req, resolve, reject, timer, sent: 1 });
      // Waiting to open the stream again: the reopen sends it with the others.
      if (this.reopenTimer) return;
      (this.stream ?? this.open()).write({ ...req, seq });
    });
  }

  /** The VM is gone: no more exits. */
  close(): void {
    this.closed = true;
    this.fail(new RpcError('CANCELLED', 'the vCPU stopped', this.peer));
  }

  private get peer(): string {
    return `${this.io.address} MmioStream`;
  }

  private open(): grpc.ClientDuplexStream<IoV1.MmioRequest, IoV1.MmioReply__Output> {
    const s = this.io.raw.MmioStream();
    this.opened++;
    s.on('data', (r: IoV1.MmioReply__Output) => {
      const p = this.pending[0];
      if (!p || r.seq !== p.seq) {
        this.fail(new RpcError('INTERNAL', `reply for seq ${r.seq} while ${p ? `seq ${p.seq}` : 'nothing'} was next`, this.peer));
        return;
      }
      clearTimeout(p.timer);
      this.pending.shift();
      this.outage = undefined;
      this.reopenMs = REOPEN_MS[0];
      p.resolve(r);
    });
    s.on('error', (e: grpc.ServiceError) => {
      if (this.stream === s) this.broken(RpcError.fromGrpc(e, this.peer));
    });
    s.on('end', () => {
      if (this.stream === s) this.broken(new RpcError('UNAVAILABLE', 'io-backend ended the stream', this.peer));
    });
    this.stream = s;
    return s;
  }

  /** The stream broke: asked again when io-backend gave no answer, else every exit fails. */
  private broken(e: RpcError): void {
    if (this.closed || !NO_ANSWER.has(e.code)) return this.fail(e);
    this.drop();
    this.outage = e;
    if (this.pending.length === 0 || this.reopenTimer) return; // the next exit opens a new one
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.closed || this.pending.length === 0) return;
      const s = this.open();
      for (const p of this.pending) {
        p.sent++;
        this.retried++;
        s.write({ ...p.req, seq: p.seq });
      }
    }, this.reopenMs);
    this.reopenMs = Math.min(this.reopenMs * 2, REOPEN_MS[1]);
  }

  /** Exit `seq` reached its deadline: it fails, and so does everything queued behind it. */
  private expire(seq: number): void {
    const p = this.pending.find((x) => x.seq === seq);
    if (!p) return;
    const e = this.outage
      ? new RpcError(
          'UNAVAILABLE',
          `io-backend gave no answer to seq ${seq} within ${this.deadlineMs} ms (${p.sent} attempts); last: ${this.outage.code}: ${this.outage.message}`,
          this.peer,
        )
      : new RpcError('DEADLINE_EXCEEDED', `no reply to seq ${seq} within ${this.deadlineMs} ms`, this.peer);
    this.fail(e);
  }

  private drop(): void {
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      s.removeAllListeners('data');
      s.on('error', () => undefined); // the cancel below reports itself as an error
      s.cancel();
    }
  }

  /** Rejects what is in flight and drops the stream (the next exit opens a new one). */
  private fail(e: RpcError): void {
    this.drop();
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.outage = undefined;
    this.reopenMs = REOPEN_MS[0];
    const all = this.pending;
    this.pending = [];
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(e);
    }
  }
}
