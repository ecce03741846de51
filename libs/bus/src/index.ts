export { Bus, type BusOptions, type Unsubscribe } from './bus.js';
export { subjects, streams, kvKeys, KV_BUCKET, checkVmId, vmOfSubject, type StreamSpec } from './subjects.js';
