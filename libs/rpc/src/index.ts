export { RpcServer, unary, loggingInterceptor, type RpcServerOptions } from './server.js';
export { RpcClient, deadlineIn, DEFAULT_DEADLINE_MS, type CallOptions, type RpcClientOptions, type UnaryMethod } from './client.js';
export { faultInterceptor } from './fault-interceptor.js';
export { FLOW_CONTROL_WINDOW } from './flow-control.js';
export { HealthService, type ServingStatus } from './health.js';
export { checkHealth, waitForServing } from './health-client.js';
export {
  RpcError,
  toRpcError,
  rpcCodeOf,
  invalidArgument,
  notFound,
  alreadyExists,
  failedPrecondition,
  resourceExhausted,
  unavailable,
  vmIdArg,
  type RpcCode,
} from './errors.js';
export { parseHostPort, type HostPort } from './address.js';
export {
  loadTls,
  useTls,
  currentTls,
  serverCredentials,
  channelCredentials,
  channelTo,
  labDnsName,
  defaultServerCredentials,
  type Channel,
  peerIdentity,
  accessInterceptor,
  CALLER_KEY,
  type TlsMaterial,
  type AccessPolicy,
} from './tls.js';
