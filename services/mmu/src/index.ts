// @splitvisor/mmu: the memory virtualizer. Its face is the memory logic (usable without a
// network) and the service definition that main.ts runs.
export { FramePool, type Frame } from './frame-pool.js';
export { PageBitmap } from './page-bitmap.js';
export {
  AddressSpace,
  checkRamLayout,
  GUEST_PHYS_LIMIT,
  MAX_FETCH_PAGES,
  type FetchedPage,
  type PageWrite,
  type SpaceOptions,
  type SpaceStats,
} from './address-space.js';
export { Mmu, validVmId, type MmuTotals } from './mmu.js';
export { MemError, type MemErrorKind } from './errors.js';
export { mmuHandlers, toStatus } from './handlers.js';
export { mmuService, type MmuConfig } from './service.js';
