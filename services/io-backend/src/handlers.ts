// gRPC face of the io-backend (proto/splitvisor/io/v1/io.proto): each handler unpacks the
// request and hands it to IoBackend; typed errors become status codes in `unary`.
import type * as grpc from '@grpc/grpc-js';
import { notFound, toRpcError, unary } from '@splitvisor/rpc';
import type { IoV1 } from '@splitvisor/proto';
import type { IoBackend } from './backend.js';

/**
 * One vCPU's exits on one stream: served one after another in arrival order (a vCPU has one
 * in flight, but order is kept even if a client sent more), each reply carrying its seq. A
 * request that cannot be served ends the stream with its status, as the unary call fails.
 */
function serveMmioStream(backend: IoBackend, call: grpc.ServerDuplexStream<IoV1.MmioRequest__Output, IoV1.MmioReply>): void {
  let chain = Promise.resolve();
  let ended = false;
  call.on('data', (req: IoV1.MmioRequest__Output) => {
    chain = chain.then(async () => {
      if (ended) return;
      try {
        call.write({ ...(await backend.mmio(req)), seq: req.seq });
      } catch (e) {
        ended = true;
        // grpc-js sends an 'error' event's status as the stream's trailers, then ends it.
        call.emit('error', toRpcError(e).toServiceError());
      }
    });
  });
  call.on('end', () => {
    void chain.then(() => {
      if (!ended) call.end();
      ended = true;
    });
  });
  call.on('error', () => {
    ended = true; // the client went away (cancelled): nothing to answer
  });
}

export function ioHandlers(backend: IoBackend): IoV1.IoBackendHandlers {
  return {
    AttachVm: unary(async (req: IoV1.AttachVmRequest__Output): Promise<IoV1.AttachVmReply> => {
      await backend.attach(req.vmId);
      return {};
    }),
    DetachVm: unary(async (req: IoV1.DetachVmRequest__Output): Promise<IoV1.DetachVmReply> => {
      await backend.detach(req.vmId);
      return {};
    }),
    Mmio: unary((req: IoV1.MmioRequest__Output) => backend.mmio(req)),
    MmioStream: (call) => serveMmioStream(backend, call),
    PostWrites: unary(async (req: IoV1.PostWritesRequest__Output): Promise<IoV1.PostWritesReply> => {
      await backend.postWrites(req);
      return {};
    }),
    Ping: unary((req: IoV1.PingRequest__Output): IoV1.PingReply => ({ payload: req.payload })),
    GetVmStats: unary((req: IoV1.GetVmStatsRequest__Output): IoV1.DeviceStats => {
      const s = backend.stats(req.vmId);
      if (!s) throw notFound(`vm "${req.vmId}" is not attached`);
      return {
        vmId: req.vmId,
        devices: Object.entries(s.mmio).map(([device, c]) => ({ device, reads: c.reads, writes: c.writes })),
        unmapped: s.unmapped,
        badAccess: s.badAccess,
        consoleBytesOut: s.consoleBytesOut,
        consoleBytesIn: s.consoleBytesIn,
        consoleBytesDropped: s.consoleBytesDropped,
        consoleBytesLost: s.console.bytesLost,
        systemEvents: s.systemEvents,
        irqLinesHigh: Object.entries(s.irqLines)
          .filter(([, high]) => high)
          .map(([irq]) => Number(irq)),
        irqsRaised: s.irqsRaised,
        coalescedWrites: s.coalescedWrites,
        doorbells: s.doorbells,
        virtio: s.virtio,
        ...(s.dma && { dma: s.dma }),
      };
    }),
  };
}
