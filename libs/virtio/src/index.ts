// @splitvisor/virtio: the paravirtual split driver's device half. Virtqueues (split rings)
// read from a guest that may be hostile, the virtio-mmio (version 2) transport, and the
// device models that plug into it. Guest memory is reached only through GuestMemory, so the
// same code runs against mmu DMA in io-backend and against a flat buffer in tests.
export { FlatMemory, GuestMemoryError, checkRange, u64ToNumber, type GuestMemory } from './memory.js';
export type { VirtioDevice, VirtioContext } from './device.js';
export { STATUS, INTERRUPT, DEVICE_ID, VIRTIO_F_VERSION_1, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX, featureBit, hasFeature } from './constants.js';
export { QueueError } from './queue/queue-error.js';
export { SplitQueue, layoutProblem, type QueueLayout, type Segment, type DescriptorChain, type SplitQueueOptions } from './queue/split-queue.js';
export { readSegments, writeSegments, sliceSegments, segmentBytes } from './queue/segments.js';
export { QueueRunner, type QueueRunnerOptions, type QueueRunnerStats } from './queue/runner.js';
export * as ring from './queue/ring.js';
