export type { Doorbells, FetchedRun, GuestPages, IrqLineSource, MmioAccess, MmioPort, PageRecalls, ShadowRevokes, VcpuPorts } from './ports.js';
export {
  DEFAULT_HOLDER,
  mmuGuestPages,
  natsDoorbells,
  natsIrqLines,
  natsPageRecalls,
  natsShadowRevokes,
  streamMmioPort,
  vcpuPorts,
  type VcpuBackends,
} from './adapters.js';
