// The fault plane on the gRPC side (issue 15): every client of this process that names the
// service it calls consults the process's fault table (libs/faults) through this
// interceptor. With no fault held it costs one boolean check: a unary call's at its start,
// a stream's at each message it sends (a stream lives long; a fault added later applies
// to it too). A call under a fault is decided at its message, whose size a bandwidth
// fault needs. A partition or a drop fails the call with UNAVAILABLE and the fault's own
// words.
//
// Latency delays what this end sends, in order, as a link would: each message is in flight
// for its own delay from the moment the call handed it over, and the messages after it are
// handed over meanwhile (a link carries several at once). One message never overtakes the
// one before it (with jitter, it leaves when that one has left). Letting grpc-js's stream
// wait for each delayed message before handing over the next instead would add the delays
// of every message ahead to a message's own: an exit sent right behind a posted delivery
// would see the latency twice.
import * as grpc from '@grpc/grpc-js';
import { faultPlane, type FaultTable, type RpcDecision } from '@splitvisor/faults';

type NextCallInterface = ReturnType<grpc.NextCall>;
type MessageContext = Parameters<grpc.InterceptingCall['sendMessageWithContext']>[0];

export function faultInterceptor(target: string, table: FaultTable = faultPlane): grpc.Interceptor {
  return (options, nextCall) => {
    const streaming = Boolean(options.method_definition.requestStream);
    if (!streaming && !table.active) return new grpc.InterceptingCall(nextCall(options));
    // The message's size on the wire, for a bandwidth fault (only while a fault is held).
    const serialize = options.method_definition.requestSerialize as (m: unknown) => Buffer;
    return new FaultedCall(nextCall(options), (message) => (table.active ? table.rpc(target, serialize(message).length) : undefined));
  };
}

interface Held {
  at: number;
  context: MessageContext;
  message: unknown;
}

/** A call whose messages the fault table decides on one by one. */
class FaultedCall extends grpc.InterceptingCall {
  private failed = false;
  /** Messages in flight (delayed), oldest first: each leaves at `at`, never before the one ahead. */
  private held: Held[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** A message is with the layer below and its write is not done: grpc-js's calls take one
   *  message at a time, so the next one waits for that (microseconds, not the delay). */
  private writing = false;
  /** The call half-closed while messages were in flight: it closes once they are sent. */
  private halfClosePending = false;

  constructor(
    next: NextCallInterface,
    private readonly decide: (message: unknown) => RpcDecision | undefined,
  ) {
    super(next);
  }

  override sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.failed) return;
    const d = this.decide(message);
    if (d?.fail) {
      this.cancelWithStatus(grpc.status.UNAVAILABLE, d.fail);
      return;
    }
    const delayMs = d?.delayMs ?? 0;
    if (delayMs <= 0 && this.held.length === 0 && !this.writing) return super.sendMessageWithContext(context, message);
    const now = performance.now();
    const behind = this.held.at(-1)?.at ?? 0;
    // The message is on its way: the call may hand over the next one now (its write is
    // done, as a socket's is once the bytes are queued), which then travels alongside.
    const { callback, ...rest } = context;
    this.held.push({ at: Math.max(now + delayMs, behind), context: rest, message });
    this.pump();
    callback?.();
  }

  override halfClose(): void {
    if (this.held.length > 0 || this.writing) this.halfClosePending = true;
    else super.halfClose();
  }

  override cancelWithStatus(status: grpc.status, details: string): void {
    this.failed = true;
    this.held = [];
    clearTimeout(this.timer);
    super.cancelWithStatus(status, details);
  }

  /** Hands the layer below the oldest message once it is due, then the next; half-closes
   *  after the last. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.failed) return;
    const h = this.held[0];
    if (h === undefined) {
      if (this.halfClosePending) {
        this.halfClosePending = false;
        super.halfClose();
      }
      return;
    }
    const wait = h.at - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => this.pump(), wait);
      return;
    }
    this.held.shift();
    this.writing = true;
    super.sendMessageWithContext(
      {
        ...h.context,
        callback: () => {
          this.writing = false;
          this.pump();
        },
      },
      h.message,
    );
  }
}
