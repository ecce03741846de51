export { FaultError } from './errors.js';
export { parseDuration, formatDuration, boundedDuration } from './duration.js';
export { PROCESS_ACTIONS, STOP_DEFAULT_MS, STOP_MAX_MS, checkProcessFault, type ProcessAction, type ProcessFault } from './process-fault.js';
export { SERVICES, RPC_LINKS, SUBJECT_FAMILIES, PARTITION_FAMILIES, parseLink, subjectLink, type Link, type RpcLinkName, type SubjectFamily } from './link.js';
export { seededRandom } from './rng.js';
export {
  FAULT_KINDS,
  FAULT_DEFAULT_MS,
  FAULT_MAX_MS,
  REORDER_DEFAULT_MS,
  parseFault,
  checkSpec,
  describeFault,
  type FaultKind,
  type FaultSpec,
  type FaultRequest,
} from './spec.js';
export { FaultTable, faultPlane, NO_RPC_FAULT, NO_NATS_FAULT, type RpcDecision, type NatsDecision } from './table.js';
