// Protobuf codecs for the payloads that travel on NATS. Same conversion options as the
// gRPC loader (see loader.ts), so a message looks the same whichever transport carried it.
import type protobuf from 'protobufjs';
import { eventsProto, mmuProto } from './loader.js';
import type { ConsoleOutput, ConsoleOutput__Output } from './generated/splitvisor/events/v1/ConsoleOutput.js';
import type { ConsoleInput, ConsoleInput__Output } from './generated/splitvisor/events/v1/ConsoleInput.js';
import type { LifecycleEvent, LifecycleEvent__Output } from './generated/splitvisor/events/v1/LifecycleEvent.js';
import type { IrqLine, IrqLine__Output } from './generated/splitvisor/events/v1/IrqLine.js';
import type { IrqQuery, IrqQuery__Output } from './generated/splitvisor/events/v1/IrqQuery.js';
import type { IrqLevels, IrqLevels__Output } from './generated/splitvisor/events/v1/IrqLevels.js';
import type { Doorbell, Doorbell__Output } from './generated/splitvisor/events/v1/Doorbell.js';
import type { RecallRequest, RecallRequest__Output } from './generated/splitvisor/mmu/v1/RecallRequest.js';
import type { RecallReply, RecallReply__Output } from './generated/splitvisor/mmu/v1/RecallReply.js';
import type { FaultTable, FaultTable__Output } from './generated/splitvisor/events/v1/FaultTable.js';
import type { FaultsHeld, FaultsHeld__Output } from './generated/splitvisor/events/v1/FaultsHeld.js';
import type { MmuStarted, MmuStarted__Output } from './generated/splitvisor/mmu/v1/MmuStarted.js';
import type { ShadowRevoke, ShadowRevoke__Output } from './generated/splitvisor/events/v1/ShadowRevoke.js';
import type { ShadowRevokeAck, ShadowRevokeAck__Output } from './generated/splitvisor/events/v1/ShadowRevokeAck.js';

export interface Codec<In, Out> {
  readonly typeName: string;
  encode(msg: In): Uint8Array;
  /** Throws a MalformedPayloadError naming the type when the bytes are not a valid message. */
  decode(bytes: Uint8Array): Out;
}

export class MalformedPayloadError extends Error {
  constructor(typeName: string, cause: unknown) {
    super(`malformed ${typeName} payload: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'MalformedPayloadError';
  }
}

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  bytes: Buffer as unknown as protobuf.IConversionOptions['bytes'],
  defaults: true,
  oneofs: true,
};

/** protobufjs verifies enums as numbers; we write them by name. Unknown names are errors. */
function enumNamesToNumbers(type: protobuf.Type, msg: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...msg };
  for (const field of type.fieldsArray) {
    const value = copy[field.name];
    const en = field.resolve().resolvedType;
    if (typeof value === 'string' && en && 'values' in en) {
      const n = (en as protobuf.Enum).values[value];
      if (n === undefined) throw new MalformedPayloadError(type.fullName.slice(1), `${field.name}: unknown enum name ${value}`);
      copy[field.name] = n;
    }
  }
  return copy;
}

function codec<In extends object, Out>(typeName: string, root: () => protobuf.Root = eventsProto): Codec<In, Out> {
  let type: protobuf.Type | undefined;
  const t = () => (type ??= root().lookupType(typeName));
  return {
    typeName,
    encode(msg) {
      const err = t().verify(enumNamesToNumbers(t(), msg as Record<string, unknown>));
      if (err) throw new MalformedPayloadError(typeName, err);
      return t()
        .encode(t().fromObject(msg as Record<string, unknown>))
        .finish();
    },
    decode(bytes) {
      try {
        return t().toObject(t().decode(bytes), TO_OBJECT) as Out;
      } catch (e) {
        throw new MalformedPayloadError(typeName, e);
      }
    },
  };
}

export const ConsoleOutputCodec = codec<ConsoleOutput, ConsoleOutput__Output>('splitvisor.events.v1.ConsoleOutput');
export const ConsoleInputCodec = codec<ConsoleInput, ConsoleInput__Output>('splitvisor.events.v1.ConsoleInput');
export const LifecycleEventCodec = codec<LifecycleEvent, LifecycleEvent__Output>('splitvisor.events.v1.LifecycleEvent');
export const IrqLineCodec = codec<IrqLine, IrqLine__Output>('splitvisor.events.v1.IrqLine');
export const IrqQueryCodec = codec<IrqQuery, IrqQuery__Output>('splitvisor.events.v1.IrqQuery');
export const IrqLevelsCodec = codec<IrqLevels, IrqLevels__Output>('splitvisor.events.v1.IrqLevels');
export const DoorbellCodec = codec<Doorbell, Doorbell__Output>('splitvisor.events.v1.Doorbell');
export const RecallRequestCodec = codec<RecallRequest, RecallRequest__Output>('splitvisor.mmu.v1.RecallRequest', mmuProto);
export const RecallReplyCodec = codec<RecallReply, RecallReply__Output>('splitvisor.mmu.v1.RecallReply', mmuProto);
export const MmuStartedCodec = codec<MmuStarted, MmuStarted__Output>('splitvisor.mmu.v1.MmuStarted', mmuProto);
export const ShadowRevokeCodec = codec<ShadowRevoke, ShadowRevoke__Output>('splitvisor.events.v1.ShadowRevoke');
export const ShadowRevokeAckCodec = codec<ShadowRevokeAck, ShadowRevokeAck__Output>('splitvisor.events.v1.ShadowRevokeAck');
export const FaultTableCodec = codec<FaultTable, FaultTable__Output>('splitvisor.events.v1.FaultTable');
export const FaultsHeldCodec = codec<FaultsHeld, FaultsHeld__Output>('splitvisor.events.v1.FaultsHeld');
