export type { Doorbells, FetchedRun, GuestPages, IrqLineSource, MmioAccess, MmioPort, PageRecalls, VcpuPorts } from './ports.js';
export { DEFAULT_HOLDER, mmuGuestPages, natsDoorbells, natsIrqLines, natsPageRecalls, streamMmioPort, vcpuPorts, type VcpuBackends } from './adapters.js';
