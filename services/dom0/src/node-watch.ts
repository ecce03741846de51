// dom0 watches its cpu nodes: one grpc.health.v1 Watch stream per node, open for as long as
// dom0 runs. A node's process that dies ends its stream at once (a cpu killed with -9
// publishes no exit event, and without this dom0 would show its VMs `running` for ever);
// one that stops saying SERVING is going away. Either is a loss, told once until the node
// is SERVING again; the controller then asks the node what it still runs (nodeLost).
// Nodes come and go with the node registry (node-registry.ts): one found is watched from then
// on; one whose entry expired or was deleted is a loss too (told once, like a stream's end),
// and is no longer watched, so a node found again later starts afresh.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@splitvisor/log';
import { protos, type HealthV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';

export interface NodeWatchOptions {
  /** How soon a stream that could not be opened (or ended) is tried again. */
  retryMs?: number;
  /** How long after a loss dom0 waits before acting: a cpu that stops in order publishes
   *  its VMs' exit reports first, and those say better why the VM ended. */
  settleMs?: number;
}

interface Watched {
  client: RpcClient<HealthV1.HealthClient>;
  call?: grpc.ClientReadableStream<HealthV1.HealthCheckResponse__Output>;
  /** SERVING was seen since the last loss: the next end of the stream is a loss. */
  up: boolean;
  timer?: NodeJS.Timeout;
  /** No longer watched: its cancelled stream's end is not a loss. */
  removed?: boolean;
}

export class CpuNodeWatch {
  private readonly nodes = new Map<string, Watched>();
  private stopped = false;
  private started = false;

  constructor(
    nodes: readonly string[],
    private readonly onLost: (node: string, why: string) => void,
    private readonly log: Logger,
    private readonly opts: NodeWatchOptions = {},
  ) {
    for (const n of nodes) this.nodes.set(n, { client: new RpcClient<HealthV1.HealthClient>(protos().health.Health, n, { server: 'cpu' }), up: false });
  }

  start(): void {
    this.started = true;
    for (const [node, w] of this.nodes) this.open(node, w);
  }

  /** A node found after start: watched from now on (nothing when already watched). */
  add(node: string): void {
    if (this.stopped || this.nodes.has(node)) return;
    const w: Watched = { client: new RpcClient<HealthV1.HealthClient>(protos().health.Health, node, { server: 'cpu' }), up: false };
    this.nodes.set(node, w);
    if (this.started) this.open(node, w);
  }

  /** A node gone from the registry: a loss unless one was told already, and no longer watched. */
  remove(node: string, why: string): void {
    const w = this.nodes.get(node);
    if (!w) return;
    this.nodes.delete(node);
    w.removed = true;
    clearTimeout(w.timer);
    this.lost(node, w, why);
    w.call?.cancel();
    w.client.close();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.nodes.values()) {
      clearTimeout(w.timer);
      w.call?.cancel();
      w.client.close();
    }
  }

  private open(node: string, w: Watched): void {
    if (this.stopped || w.removed) return;
    let ended = false;
    const call = w.client.raw.Watch({ service: '' });
    w.call = call;
    const end = (why: string) => {
      if (ended || this.stopped || w.removed) return;
      ended = true;
      call.cancel();
      this.lost(node, w, why);
      w.timer = setTimeout(() => this.open(node, w), this.opts.retryMs ?? 500);
    };
    call.on('data', (m: HealthV1.HealthCheckResponse__Output) => {
      if (m.status === 'SERVING') {
        if (!w.up) this.log.info({ node }, 'cpu node serving');
        w.up = true;
      } else end(`its health says ${m.status}`);
    });
    call.on('error', (e: Error & { details?: string }) => end(`its health stream ended: ${e.details || e.message}`));
    call.on('end', () => end('its health stream ended'));
  }

  private lost(node: string, w: Watched, why: string): void {
    if (!w.up) return;
    w.up = false;
    this.log.warn({ node, why }, 'cpu node lost');
    setTimeout(() => {
      if (!this.stopped) this.onLost(node, why);
    }, this.opts.settleMs ?? 1000);
  }
}
