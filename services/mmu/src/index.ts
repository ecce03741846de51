// @splitvisor/mmu: the memory virtualizer. Its face is the memory logic (usable without a
// network) and the service definition that main.ts runs.
export { FramePool, type Frame } from './frame-pool.js';
export { PageBitmap } from './page-bitmap.js';
export { MemoryPageStore, FilePageStore, type PageStore } from './page-store.js';
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
export { Directory, MAX_HOLDERS, type RecallMode } from './directory.js';
export {
  VmMemory,
  DEFAULT_HOLDER,
  MAX_DMA_BYTES,
  NO_RECALLS,
  RECALL_RUN,
  type DmaSegment,
  type FetchGrant,
  type RecallOrder,
  type RecalledPage,
  type Recaller,
  type VmMemoryOptions,
} from './vm-memory.js';
export { writeSnapshot, verifySnapshot, applySnapshot, type SnapshotInfo } from './snapshot.js';
export { Mmu, validVmId, type MmuOptions, type MmuTotals } from './mmu.js';
export { MemError, type MemErrorKind } from './errors.js';
export { CALLER_KEY, metadataIdentity, type Identify } from './caller.js';
export { mmuHandlers, toStatus, type HandlerOptions } from './handlers.js';
export { NatsRecaller } from './recaller.js';
export { mmuService, type MmuConfig } from './service.js';
