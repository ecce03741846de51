// An RPC server with what every Splitvisor service needs: grpc.health.v1, a logging
// interceptor (the place where metrics, auth and fault injection also plug in), handlers
// that return promises and throw typed errors, and a graceful stop.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@splitvisor/log';
import { HealthService } from './health.js';
import { toRpcError } from './errors.js';
import { defaultServerCredentials } from './tls.js';
import { widenServerWindowAfterBind, widenServerWindowBeforeBind } from './flow-control.js';

export interface RpcServerOptions {
  /** The service name announced in health (e.g. "splitvisor.io.v1.IoBackend"). */
  name: string;
  /** host:port; port 0 picks a free one. */
  listen: string;
  log: Logger;
  interceptors?: grpc.ServerInterceptor[];
  credentials?: grpc.ServerCredentials;
}

/** Logs every call's method, status and duration: debug when OK, warn otherwise. */
export function loggingInterceptor(log: Logger): grpc.ServerInterceptor {
  return (method, call) => {
    const started = process.hrtime.bigint();
    return new grpc.ServerInterceptingCall(call, {
      sendStatus(status, next) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (status.code === grpc.status.OK) log.trace({ method: method.path, ms }, 'rpc ok');
        else log.warn({ method: method.path, code: grpc.status[status.code], details: status.details, ms }, 'rpc failed');
        next(status);
      },
    });
  };
}

/** Adapts an async handler to grpc-js: a thrown RpcError becomes its status code. */
export function unary<Req, Res>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (e: unknown) => callback(toRpcError(e).toServiceError() as grpc.ServiceError),
      );
  };
}

export class RpcServer {
  readonly health = new HealthService();
  readonly server: grpc.Server;
  private boundPort = 0;
  /** The HTTP/2 flow-control window is FLOW_CONTROL_WINDOW (flow-control.ts), not 64 KiB. */
  private wideWindow: boolean;

  constructor(private readonly opts: RpcServerOptions) {
    this.server = new grpc.Server({
      interceptors: [loggingInterceptor(opts.log), ...(opts.interceptors ?? [])],
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    this.health.addTo(this.server);
    this.wideWindow = widenServerWindowBeforeBind(this.server);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  add(service: grpc.ServiceDefinition<any>, impl: grpc.UntypedServiceImplementation): void {
    this.server.addService(service, impl);
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<number> {
    const creds = this.opts.credentials ?? defaultServerCredentials();
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.opts.listen, creds, (err, port) => {
        if (err) reject(new Error(`cannot listen on ${this.opts.listen}: ${err.message}`));
        else resolve(port);
      }),
    );
    this.wideWindow &&= widenServerWindowAfterBind(this.server);
    if (!this.wideWindow)
      this.opts.log.warn({ service: this.opts.name }, 'grpc-js internals changed: this server keeps HTTP/2 64 KiB flow-control windows (slower bulk calls)');
    this.health.set('', 'SERVING');
    this.health.set(this.opts.name, 'SERVING');
    return this.boundPort;
  }

  /** Stops taking calls; in-flight calls get `graceMs` to finish, then are cancelled. */
  async stop(graceMs = 5000): Promise<void> {
    this.health.shutdown();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
