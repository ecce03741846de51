// gRPC face of the io-backend (proto/splitvisor/io/v1/io.proto): each handler unpacks the
// request and hands it to IoBackend; typed errors become status codes in `unary`.
import { notFound, unary } from '@splitvisor/rpc';
import type { IoV1 } from '@splitvisor/proto';
import type { IoBackend } from './backend.js';

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
    PostWrites: unary((req: IoV1.PostWritesRequest__Output): IoV1.PostWritesReply => {
      backend.postWrites(req);
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
