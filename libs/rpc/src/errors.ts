// Typed errors that cross the wire as gRPC status codes and come back as the same class,
// so a caller can tell "no such VM" from "io-backend is down" without parsing messages.
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { parseVmId, VmIdError, type VmId } from '@splitvisor/platform';

export type RpcCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'UNIMPLEMENTED'
  | 'INTERNAL';

const TO_GRPC: Record<RpcCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
};

export class RpcError extends Error {
  constructor(
    readonly code: RpcCode,
    message: string,
    /** Which peer and method failed, when this error came back from a call. */
    readonly peer?: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  get grpcCode(): status {
    return TO_GRPC[this.code];
  }

  /** The error to hand to a grpc-js callback. */
  toServiceError(): Partial<ServiceError> {
    return { code: this.grpcCode, details: this.message, message: this.message, metadata: new Metadata() };
  }

  /** Rebuilds the typed error from what a grpc-js call returned. */
  static fromGrpc(err: Partial<ServiceError>, peer?: string): RpcError {
    const entry = Object.entries(TO_GRPC).find(([, c]) => c === err.code);
    const code = (entry?.[0] as RpcCode | undefined) ?? 'INTERNAL';
    const details = err.details || err.message || 'no details';
    return new RpcError(code, details, peer);
  }
}

export const invalidArgument = (msg: string) => new RpcError('INVALID_ARGUMENT', msg);
export const notFound = (msg: string) => new RpcError('NOT_FOUND', msg);
export const alreadyExists = (msg: string) => new RpcError('ALREADY_EXISTS', msg);
export const failedPrecondition = (msg: string) => new RpcError('FAILED_PRECONDITION', msg);
export const resourceExhausted = (msg: string) => new RpcError('RESOURCE_EXHAUSTED', msg);
export const unavailable = (msg: string) => new RpcError('UNAVAILABLE', msg);

/** Any thrown value as an RpcError: typed ones pass through, the rest become INTERNAL. */
/** `name` as an RpcCode when it is one (a code carried in a message, not a gRPC status),
 *  else INTERNAL. */
export function rpcCodeOf(name: string): RpcCode {
  return Object.hasOwn(TO_GRPC, name) ? (name as RpcCode) : 'INTERNAL';
}

export function toRpcError(e: unknown): RpcError {
  if (e instanceof RpcError) return e;
  // A request named a VM (or a name under the same rule) that cannot be one.
  if (e instanceof VmIdError) return new RpcError('INVALID_ARGUMENT', e.message);
  return new RpcError('INTERNAL', e instanceof Error ? e.message : String(e));
}

/** `raw` as a VmId, or INVALID_ARGUMENT naming `field` (the request's field name). */
export function vmIdArg(raw: string, field: string): VmId {
  try {
    return parseVmId(raw, field);
  } catch (e) {
    throw toRpcError(e);
  }
}
