// grpc.health.v1 on every server: "" is the whole server; each service name has its own.
import * as grpc from '@grpc/grpc-js';
import { protos, type HealthV1 } from '@splitvisor/proto';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{
    service: string;
    call: grpc.ServerWritableStream<HealthV1.HealthCheckRequest__Output, HealthV1.HealthCheckResponse>;
  }>();

  set(service: string, s: ServingStatus): void {
    this.statuses.set(service, s);
    for (const w of this.watchers) if (w.service === service) w.call.write({ status: s });
  }

  /** NOT_SERVING everywhere, as the first step of a graceful shutdown. */
  shutdown(): void {
    for (const k of [...this.statuses.keys()]) this.set(k, 'NOT_SERVING');
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  addTo(server: grpc.Server): void {
    const impl: HealthV1.HealthHandlers = {
      Check: (call, cb) => {
        const s = this.statuses.get(call.request.service);
        if (s === undefined) {
          cb({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
          return;
        }
        cb(null, { status: s });
      },
      Watch: (call) => {
        const w = { service: call.request.service, call };
        this.watchers.add(w);
        call.write({ status: this.statuses.get(call.request.service) ?? 'SERVICE_UNKNOWN' });
        call.on('cancelled', () => this.watchers.delete(w));
      },
    };
    server.addService(protos().health.Health.service, impl);
  }
}
