// gRPC face of the io-backend (proto/splitvisor/io/v1/io.proto): each handler unpacks the
// request and hands it to IoBackend; typed errors become status codes in `unary`.
import { unary } from '@splitvisor/rpc';
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
    Ping: unary((req: IoV1.PingRequest__Output): IoV1.PingReply => ({ payload: req.payload })),
  };
}
