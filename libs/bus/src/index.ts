export { Bus, withCredentials, type BusOptions, type Unsubscribe } from './bus.js';
export { subjects, streams, kvKeys, KV_BUCKET, vmOfSubject, lifecycleOfSubject, LIFECYCLE_SOURCES, type LifecycleSource, type StreamSpec } from './subjects.js';
export {
  XENBUS_STATES,
  checkDeviceId,
  encodeDeviceEnd,
  decodeDeviceEnd,
  parseDeviceKey,
  type XenbusState,
  type DeviceEnd,
  type DeviceEndState,
} from './xenbus.js';
/** The KV types, for services that watch the tree without depending on the client library. */
export type { KV, KvWatchEntry } from '@nats-io/kv';
export { followKv, type KvFollowOptions } from './kv-follow.js';
export {
  NODE_REGISTRY_BUCKET,
  NODE_TTL_MS,
  NODE_HEARTBEAT_MS,
  CPU_NODE_KEYS,
  checkNodeId,
  toNodeId,
  nodeKey,
  badNodeAddress,
  encodeNodeEntry,
  parseNodeEntry,
  type CpuNodeEntry,
  type ParsedNodeEntry,
} from './node-registry.js';
