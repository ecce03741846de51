// @splitvisor/virtio: the paravirtual split driver's device half. Virtqueues (split rings)
// read from a guest that may be hostile, the virtio-mmio (version 2) transport, and the
// device models that plug into it. Guest memory is reached only through GuestMemory, so the
// same code runs against mmu DMA in io-backend and against a flat buffer in tests.
export { FlatMemory, GuestMemoryError, checkRange, u64ToNumber, type GuestMemory, type GuestRange, type GuestWrite } from './memory.js';
export type { VirtioDevice, VirtioContext } from './device.js';
export { STATUS, INTERRUPT, DEVICE_ID, VIRTIO_F_VERSION_1, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX, featureBit, hasFeature } from './constants.js';
export { QueueError } from './queue/queue-error.js';
export {
  SplitQueue,
  layoutProblem,
  type QueueLayout,
  type Segment,
  type DescriptorChain,
  type SplitQueueOptions,
  type UsedChain,
} from './queue/split-queue.js';
export { readSegments, writeSegments, segmentWrites, sliceSegments, segmentBytes } from './queue/segments.js';
export { QueueRunner, QueueRunners, type ChainHandler, type Completion, type QueueRunnerOptions, type QueueRunnerStats } from './queue/runner.js';
export * as ring from './queue/ring.js';
export { VirtioMmioTransport, MMIO_MAGIC, MMIO_VENDOR_ID, TRANSPORT_FEATURES, type VirtioMmioTransportOptions, type TransportStats } from './mmio/transport.js';
export {
  SAVED_STATE_VERSION,
  SavedStateError,
  decodeTransportState,
  encodeTransportState,
  type TransportSavedState,
  type SavedQueue,
} from './mmio/saved-state.js';
export { REG as mmioRegisters, MMIO_WINDOW, registerName } from './mmio/registers.js';
export { VirtioRng, type VirtioRngOptions, type RngStats } from './rng/rng.js';
export { VirtioBlk, type VirtioBlkOptions, type BlkStats } from './blk/blk.js';
export * as blkLayout from './blk/layout.js';
export { VirtioNet, type VirtioNetOptions, type NetStats } from './net/net.js';
// The mock guest driver is a named export (it has no test-framework dependency), so
// io-backend specs and the net device's specs can drive a transport the way a guest does.
export {
  MockDriver,
  turn,
  VERSION_1_ONLY,
  type MockDesc,
  type MockQueue,
  type UsedElem,
  type Buffers,
  type PostedChain,
  type MockDriverOptions,
} from './testing/mock-driver.js';
