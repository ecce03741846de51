// A typed, promise-returning client where every call carries a deadline. Retries happen
// only for calls the caller marks idempotent, and only on UNAVAILABLE.
import * as grpc from '@grpc/grpc-js';
import { RpcError } from './errors.js';
import { channelTo, currentTls, type TlsMaterial } from './tls.js';
import { faultInterceptor } from './fault-interceptor.js';
import { CLIENT_FLOW_CONTROL } from './flow-control.js';

export const DEFAULT_DEADLINE_MS = 5000;

type AnyFn = (...args: never[]) => unknown;
/** The unary methods of a generated client: the last overload is (argument, callback). */
export type UnaryMethod<C> = {
  [K in keyof C]: C[K] extends AnyFn
    ? C[K] extends (argument: infer _Req, callback: grpc.requestCallback<infer _Res>) => grpc.ClientUnaryCall
      ? K
      : never
    : never;
}[keyof C] &
  string;
export type RequestOf<C, K extends keyof C> = C[K] extends (argument: infer Req, callback: grpc.requestCallback<infer _Res>) => grpc.ClientUnaryCall
  ? Req
  : never;
export type ReplyOf<C, K extends keyof C> = C[K] extends (argument: infer _Req, callback: grpc.requestCallback<infer Res>) => grpc.ClientUnaryCall
  ? Res
  : never;

export interface CallOptions {
  deadlineMs?: number;
  /** Safe to repeat: retried on UNAVAILABLE with backoff until the deadline. */
  idempotent?: boolean;
  metadata?: grpc.Metadata;
}

export interface RpcClientOptions {
  deadlineMs?: number;
  interceptors?: grpc.Interceptor[];
  /** Credentials as they are (a test's own); without them, channelTo's for `tls`. */
  credentials?: grpc.ChannelCredentials;
  /** TLS material other than the process's (useTls). */
  tls?: TlsMaterial;
  /** Which service must answer ("mmu", "cpu", "io-backend", "dom0"): under TLS, a server
   *  presenting any other certificate is refused. Required when TLS is on. */
  server?: string;
}

export function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}

export class RpcClient<C extends grpc.Client> {
  readonly raw: C;
  readonly deadlineMs: number;

  constructor(
    Ctor: new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => C,
    readonly address: string,
    opts: RpcClientOptions = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const channel = opts.credentials ? { credentials: opts.credentials, options: {} } : channelTo(address, opts.tls ?? currentTls(), opts.server);
    this.raw = new Ctor(address, channel.credentials, {
      ...channel.options,
      // The fault plane applies to a client that names its server (every service's do).
      interceptors: [...(opts.interceptors ?? []), ...(opts.server ? [faultInterceptor(opts.server)] : [])],
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      ...CLIENT_FLOW_CONTROL,
    });
  }

  call<K extends UnaryMethod<C>>(method: K, req: RequestOf<C, K>, opts: CallOptions = {}): Promise<ReplyOf<C, K>> {
    const deadlineMs = opts.deadlineMs ?? this.deadlineMs;
    const deadline = Date.now() + deadlineMs;
    const peer = `${this.address} ${method}`;
    const attempt = (backoffMs: number): Promise<ReplyOf<C, K>> =>
      new Promise<ReplyOf<C, K>>((resolve, reject) => {
        const fn = (this.raw as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
        fn.call(this.raw, req, opts.metadata ?? new grpc.Metadata(), { deadline }, (err: grpc.ServiceError | null, res: ReplyOf<C, K>) => {
          if (err) reject(RpcError.fromGrpc(err, peer));
          else resolve(res);
        });
      }).catch((e: RpcError) => {
        const next = Math.min(backoffMs * 2, 1000);
        if (opts.idempotent && e.code === 'UNAVAILABLE' && Date.now() + backoffMs < deadline) {
          return new Promise<void>((r) => setTimeout(r, backoffMs)).then(() => attempt(next));
        }
        throw e;
      });
    return attempt(50);
  }

  /** Resolves when the channel is connected, or rejects naming the address at the deadline. */
  waitForReady(ms = this.deadlineMs): Promise<void> {
    return new Promise((resolve, reject) =>
      this.raw.waitForReady(deadlineIn(ms), (err) =>
        err ? reject(new RpcError('UNAVAILABLE', `${this.address} not ready after ${ms} ms: ${err.message}`)) : resolve(),
      ),
    );
  }

  close(): void {
    this.raw.close();
  }
}
