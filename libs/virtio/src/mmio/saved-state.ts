// What a virtio-mmio transport knows that guest RAM does not: the registers the driver set
// up (virtio 1.2 §4.2.2) and the device's own Status bits. A device backend that dies and
// comes back (io-backend restarted) reads this from its store and picks up where the guest
// left it, as a vhost-user-blk backend does after a reconnect: the rings themselves, and
// how far the device got in them (used->idx), are in guest memory.
//
// The record travels through a shared store (NATS KV), so decoding it is parsing input:
// every field is checked, and a refusal names the field and the value.

import { SavedStateError, parseRecord, savedObject as obj, savedUint as uint } from '@splitvisor/devices';

export { SavedStateError };

/** Bumped when the record's shape changes; an older or newer one is refused. */
export const SAVED_STATE_VERSION = 1;

export interface SavedQueue {
  /** QueueNum as the driver wrote it (or the maximum it starts at). */
  num: number;
  ready: boolean;
  descLo: number;
  descHi: number;
  driverLo: number;
  driverHi: number;
  deviceLo: number;
  deviceHi: number;
}

export interface TransportSavedState {
  v: typeof SAVED_STATE_VERSION;
  kind: 'virtio-mmio';
  /** The device behind the transport (§5): a record for another kind of device is refused. */
  deviceId: number;
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  /** 64-bit feature words as hex strings ("0x..."): JSON has no 64-bit integers. */
  driverFeatures: string;
  negotiated: string;
  queueSel: number;
  /** InterruptStatus when the record was written (setup time; see restore in transport.ts). */
  interruptStatus: number;
  configGeneration: number;
  queues: SavedQueue[];
}

function u64hex(o: Record<string, unknown>, key: string): bigint {
  const v = o[key];
  if (typeof v !== 'string' || !/^0x[0-9a-f]{1,16}$/.test(v)) throw new SavedStateError(key, v, 'must be a 64-bit hex string like "0x100000000"');
  return BigInt(v);
}

const U32 = 0xffff_ffff;
/** The largest queue any virtio device may have (§2.7: Queue Size is at most 32768). */
const MAX_QUEUE_NUM = 32768;
/** More queues than any device here has is not a record of ours. */
const MAX_QUEUES = 64;

/** Parses JSON text into a record, or throws a SavedStateError naming what is wrong. */
export function decodeTransportState(text: string): TransportSavedState {
  const o = parseRecord(text);
  if (o['v'] !== SAVED_STATE_VERSION) throw new SavedStateError('v', o['v'], `must be ${SAVED_STATE_VERSION}`);
  if (o['kind'] !== 'virtio-mmio') throw new SavedStateError('kind', o['kind'], 'must be "virtio-mmio"');
  const scalars = {
    v: SAVED_STATE_VERSION as typeof SAVED_STATE_VERSION,
    kind: 'virtio-mmio' as const,
    deviceId: uint(o, 'deviceId', 0xffff),
    status: uint(o, 'status', 0xff),
    deviceFeaturesSel: uint(o, 'deviceFeaturesSel', U32),
    driverFeaturesSel: uint(o, 'driverFeaturesSel', U32),
    driverFeatures: `0x${u64hex(o, 'driverFeatures').toString(16)}`,
    negotiated: `0x${u64hex(o, 'negotiated').toString(16)}`,
    queueSel: uint(o, 'queueSel', U32),
    interruptStatus: uint(o, 'interruptStatus', 3),
    configGeneration: uint(o, 'configGeneration', U32),
  };
  const qs = o['queues'];
  if (!Array.isArray(qs) || qs.length > MAX_QUEUES) throw new SavedStateError('queues', qs, `must be an array of at most ${MAX_QUEUES} queues`);
  const queues = qs.map((q, i): SavedQueue => {
    const p = `queues[${i}].`;
    const e = obj(q, `queues[${i}]`);
    if (typeof e['ready'] !== 'boolean') throw new SavedStateError(`${p}ready`, e['ready'], 'must be true or false');
    return {
      num: uint(e, 'num', MAX_QUEUE_NUM, p),
      ready: e['ready'],
      descLo: uint(e, 'descLo', U32, p),
      descHi: uint(e, 'descHi', U32, p),
      driverLo: uint(e, 'driverLo', U32, p),
      driverHi: uint(e, 'driverHi', U32, p),
      deviceLo: uint(e, 'deviceLo', U32, p),
      deviceHi: uint(e, 'deviceHi', U32, p),
    };
  });
  return { ...scalars, queues };
}

export function encodeTransportState(s: TransportSavedState): string {
  return JSON.stringify(s);
}
