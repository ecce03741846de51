export type { Doorbells, FetchedRun, GuestPages, IrqLineSource, MmioAccess, MmioPort, PageRecalls, ShadowRevokes, VcpuPorts } from './ports.js';
export {
  DEFAULT_HOLDER,
  mmuGuestPages,
  natsDoorbells,
  natsIrqLines,
  natsPageRecalls,
  natsShadowRevokes,
  streamPageRecalls,
  streamMmioPort,
  vcpuPorts,
  type RecallTransport,
  type VcpuBackends,
} from './adapters.js';
