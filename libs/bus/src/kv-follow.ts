// A KV watch that outlives what happens to NATS. A watch is an ordered consumer on one server:
// when that server restarts or, in a cluster, leaves, the consumer is gone, and the watch
// learns it only from missed heartbeats (the client library waits 10 s the first time, 60 s
// after). followKv opens the watch again at once after a reconnect or a node's loss
// (Bus.onReconnect), resuming after the last revision it delivered: nothing is delivered
// twice and nothing is skipped, so a state machine can sit behind it.
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { Logger } from '@splitvisor/log';
import type { Bus, Unsubscribe } from './bus.js';

export interface KvFollowOptions {
  /** The keys, as kv.watch takes them (wildcards allowed). */
  key: string;
  ignoreDeletes?: boolean;
  /** What the log calls this watch. */
  what: string;
  /** How long to keep trying to open it again (JetStream may still be electing a leader). */
  retryForMs?: number;
}

/** Watches `opts.key` of `kv` and calls `onEntry` for each change, in order, across
 *  reconnects and node losses. Resolves once the first watch is open. */
export async function followKv(bus: Bus, kv: KV, opts: KvFollowOptions, onEntry: (e: KvWatchEntry) => void, log: Logger): Promise<Unsubscribe> {
  let lastRevision = 0;
  let stopped = false;
  let watcher: { stop(): void } | undefined;
  let generation = 0;

  const open = async (): Promise<void> => {
    const mine = ++generation;
    const w = await kv.watch({
      key: opts.key,
      ...(opts.ignoreDeletes && { ignoreDeletes: true }),
      ...(lastRevision > 0 && { resumeFromRevision: lastRevision + 1 }),
    });
    if (stopped || mine !== generation) return void w.stop();
    watcher = w;
    void (async () => {
      for await (const e of w) {
        if (mine !== generation) break; // a newer watch took over
        if (e.revision <= lastRevision) continue;
        lastRevision = e.revision;
        onEntry(e);
      }
    })().catch((err: unknown) => log.error({ watch: opts.what, err: (err as Error).message }, `${opts.what} watch ended`));
  };

  const reopen = async (): Promise<void> => {
    watcher?.stop();
    watcher = undefined;
    const until = Date.now() + (opts.retryForMs ?? 30_000);
    while (!stopped) {
      try {
        await open();
        log.info({ watch: opts.what, afterRevision: lastRevision }, `${opts.what} watch open again`);
        return;
      } catch (e) {
        if (Date.now() > until) {
          log.error({ watch: opts.what, err: (e as Error).message }, `${opts.what} watch could not be opened again`);
          return;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };

  await open();
  const off = bus.onReconnect(() => void reopen());
  return () => {
    stopped = true;
    off();
    watcher?.stop();
  };
}
