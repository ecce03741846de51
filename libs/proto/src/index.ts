// @splitvisor/proto: the one schema of the system. proto/ defines the gRPC services and
// the NATS payloads; this library loads them and exposes their generated types.
export { PROTO_ROOT, LOADER_OPTIONS, protos, eventsProto, mmuProto, type Protos } from './loader.js';
export {
  ConsoleInputCodec,
  ConsoleOutputCodec,
  LifecycleEventCodec,
  IrqLineCodec,
  IrqQueryCodec,
  IrqLevelsCodec,
  DoorbellCodec,
  RecallRequestCodec,
  RecallReplyCodec,
  MmuStartedCodec,
  ShadowRevokeCodec,
  ShadowRevokeAckCodec,
  FaultTableCodec,
  FaultsHeldCodec,
  MalformedPayloadError,
  type Codec,
} from './codec.js';
export { heldStateOf, pageStateOf } from './page-state.js';
export type * as HealthV1 from './generated/barrels/health.js';
export type * as CpuV1 from './generated/barrels/cpu.js';
export type * as MmuV1 from './generated/barrels/mmu.js';
export type * as IoV1 from './generated/barrels/io.js';
export type * as Dom0V1 from './generated/barrels/dom0.js';
export type * as EventsV1 from './generated/barrels/events.js';
