// The exit channel between a vCPU worker and its host thread (DESIGN.md "cpu"): the worker
// posts an exit and blocks, as a vCPU thread blocks in KVM_RUN while userspace serves the
// exit; the host thread serves it and wakes the worker. One owner for the shared memory:
// ExitChannelHost (host thread) and ExitChannelWorker (worker thread) are the only code that
// reads or writes its words; layout.ts, the word map, stays inside this folder.
//
// The read shadow (read-shadow.ts) is the third shared block: device registers io-backend
// granted, which the worker serves without an exit.
//
// Local exits (handled in the worker, never leaving the process) are counted here too, by
// reason: see messages.ts EXIT_REASONS and vcpu-runner.ts, where the mode monitors hook in.
export { ExitChannelHost, allocateExitChannel, type CodeCacheStats, type ExitTable } from './host-end.js';
export { ExitChannelWorker } from './worker-end.js';
export {
  EXIT_REASONS,
  ExitStatus,
  LOCAL_EXIT_REASONS,
  Reason,
  type ExitChannelBuffers,
  type ExitReason,
  type ExitStatusValue,
  type ReasonIndex,
  type VcpuExitCause,
  type InitMessage,
  type WorkerInit,
  type WorkerRequest,
} from './messages.js';
export {
  COALESCED_ZONES,
  POSTED_BYTES,
  POSTED_CAPACITY,
  PostedKind,
  PostedRingReader,
  PostedRingWriter,
  QUEUE_NOTIFY,
  postedKindOf,
  type PostedEntry,
  type PostedKindValue,
} from './posted-ring.js';
export { ReadShadowReader, ReadShadowWriter, SHADOW_BYTES, SHADOW_REGISTERS, SHADOW_SLOTS, shadowClock } from './read-shadow.js';
