// `splitvisor events`: the lifecycle events of one VM or all, from dom0's WatchEvents
// (JetStream behind it), one line each, as `xl` has no such thing and libvirt's
// `virsh event --loop` does.
import type * as grpc from '@grpc/grpc-js';
import type { Dom0V1 } from '@splitvisor/proto';
import { RpcError, type RpcClient } from '@splitvisor/rpc';

export function eventLine(e: Dom0V1.Event__Output): string {
  const kind = e.kind.replace(/^LIFECYCLE_/, '');
  const at = e.at ? new Date(e.at).toISOString() : '-';
  const extra = [e.exitCode ? `exit ${e.exitCode}` : '', e.reason].filter(Boolean).join(': ');
  return `${at}  ${e.vmId}  ${kind}  (${e.source})${extra ? `  ${extra}` : ''}`;
}

export interface EventsOptions {
  name: string;
  fromStart: boolean;
  follow: boolean;
  json: boolean;
  out: NodeJS.WritableStream;
  quit?: Promise<void>;
}

/** Streams events until the server ends the stream (no --follow) or a quit. */
export function runEvents(client: RpcClient<Dom0V1.Dom0Client>, opts: EventsOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const call: grpc.ClientReadableStream<Dom0V1.Event__Output> = client.raw.WatchEvents({ name: opts.name, fromStart: opts.fromStart, follow: opts.follow });
    let quitting = false;
    void opts.quit?.then(() => {
      quitting = true;
      call.cancel();
      resolve();
    });
    call.on('data', (e: Dom0V1.Event__Output) => opts.out.write((opts.json ? JSON.stringify(e) : eventLine(e)) + '\n'));
    call.on('error', (err: grpc.ServiceError) => {
      if (!quitting) reject(RpcError.fromGrpc(err, `${client.address} WatchEvents`));
    });
    call.on('end', () => resolve());
  });
}
