// dom0 follows the cpu node registry (libs/bus node-registry.ts) into its NodeTable: the
// entries there at start are read before dom0 serves (so VMs it restored find their nodes),
// then a KV watch tells each registration, heartbeat and clean stop as it happens, and a sweep
// expires the entries no heartbeat renewed. While NATS is away no heartbeat can arrive: the
// sweep waits, and on reconnect every entry gets a fresh TTL and the watch is opened again.
import { CPU_NODE_KEYS, type Bus, type KV, type KvWatchEntry } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import type { NodeEvent, NodeTable } from './node-table.js';

export interface RegistryHandlers {
  up(addr: string, id: string): void;
  gone(addr: string, id: string, why: string): void;
}

export class CpuNodeRegistry {
  private kv?: KV;
  private watcher?: AsyncIterable<KvWatchEntry> & { stop(): void };
  private sweeper?: NodeJS.Timeout;
  private paused = false;
  private stopped = false;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly table: NodeTable,
    private readonly on: RegistryHandlers,
    private readonly log: Logger,
    private readonly opts: { sweepMs?: number } = {},
  ) {}

  async start(): Promise<void> {
    this.kv = await this.bus.nodeRegistry({ create: true });
    const now = Date.now();
    for await (const key of await this.kv.keys(CPU_NODE_KEYS)) {
      const e = await this.kv.get(key).catch(() => null);
      if (e && e.operation === 'PUT') this.apply(this.table.put(key, e.value, now));
    }
    await this.watch();
    this.sweeper = setInterval(() => {
      if (!this.paused) this.apply(this.table.sweep(Date.now()));
    }, this.opts.sweepMs ?? 250);
    this.offs.push(
      this.bus.onDisconnect(() => (this.paused = true)),
      this.bus.onReconnect(() => {
        this.table.touchAll(Date.now());
        this.paused = false;
        this.watcher?.stop();
        void this.reopen();
      }),
    );
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const off of this.offs) off();
    this.watcher?.stop();
  }

  private async watch(): Promise<void> {
    const w = await this.kv!.watch({ key: CPU_NODE_KEYS });
    if (this.stopped) return void w.stop();
    this.watcher = w;
    void (async () => {
      for await (const e of w) {
        if (e.operation === 'PUT') this.apply(this.table.put(e.key, e.value, Date.now()));
        else this.apply(this.table.delete(e.key));
      }
    })().catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'node registry watch ended'));
  }

  /** A NATS server that restarted may still be recovering JetStream: try for a while. */
  private async reopen(): Promise<void> {
    for (let i = 0; i < 40 && !this.stopped; i++) {
      try {
        return await this.watch();
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (!this.stopped) this.log.error({}, 'could not watch the node registry again after a NATS reconnect; new cpu nodes are not seen');
  }

  private apply(events: NodeEvent[]): void {
    for (const ev of events) {
      if (ev.kind === 'bad') this.log.error({ entry: ev.key, err: ev.error }, `ignored a malformed node registry entry ${ev.key}: ${ev.error}`);
      else if (ev.kind === 'up') {
        this.log.info({ node: ev.addr, id: ev.id }, 'cpu node found in the node registry');
        this.on.up(ev.addr, ev.id);
      } else {
        this.log.warn({ node: ev.addr, id: ev.id, why: ev.why }, 'cpu node gone from the node registry');
        this.on.gone(ev.addr, ev.id, ev.why);
      }
    }
  }
}
