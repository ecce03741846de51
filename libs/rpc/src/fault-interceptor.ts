// The fault plane on the gRPC side (issue 15): every client of this process that names the
// service it calls consults the process's fault table (libs/faults) through this
// interceptor. With no fault held it costs one boolean check: a unary call's at its start,
// a stream's at each message it sends (a stream lives long; a fault added later applies
// to it too). A call under a fault is decided at its message, whose size a bandwidth
// fault needs. Latency delays what this end sends, in order; a partition or a drop fails the
// call with UNAVAILABLE and the fault's own words.
import * as grpc from '@grpc/grpc-js';
import { faultPlane, type FaultTable } from '@splitvisor/faults';

export function faultInterceptor(target: string, table: FaultTable = faultPlane): grpc.Interceptor {
  return (options, nextCall) => {
    const streaming = Boolean(options.method_definition.requestStream);
    if (!streaming && !table.active) return new grpc.InterceptingCall(nextCall(options));
    const call = nextCall(options);
    let failed = false;
    const fail = (why: string) => {
      failed = true;
      call.cancelWithStatus(grpc.status.UNAVAILABLE, why);
    };
    // One message at a time: a stream's next write waits for this one to be sent, and grpc-js
    // holds the half-close until the message is through, so a delay cannot reorder them.
    const requester: grpc.Requester = {
      sendMessage(message, next) {
        if (failed) return;
        if (!table.active) return next(message);
        // The message's size on the wire, for a bandwidth fault (only while one is held).
        const bytes = (options.method_definition.requestSerialize as (m: unknown) => Buffer)(message).length;
        const d = table.rpc(target, bytes);
        if (d.fail) return fail(d.fail);
        if (d.delayMs > 0) setTimeout(() => !failed && next(message), d.delayMs);
        else next(message);
      },
    };
    return new grpc.InterceptingCall(call, requester);
  };
}
