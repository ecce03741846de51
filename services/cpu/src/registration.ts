// The cpu node in the node registry (libs/bus node-registry.ts): once it serves, it puts its
// entry (its id and the address dom0 reaches it on) and puts it again every heartbeat, so the
// entry lives while the node does and ages out when it dies; a clean stop deletes it, so dom0
// stops placing VMs here at once rather than one TTL later.
import { hostname, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { NODE_HEARTBEAT_MS, badNodeAddress, encodeNodeEntry, nodeKey, toNodeId, type Bus, type CpuNodeEntry, type KV } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';

const WILDCARD = /^(0\.0\.0\.0|\[?::\]?|\[?::0?\]?)?$/;

/**
 * Where others reach this node: `advertise` when given; else the listen address with the
 * port actually bound, its host replaced when it is a wildcard (0.0.0.0, ::) by this host's
 * first external IPv4 address (a container's address on its network, what `--scale cpu=2`
 * needs: every replica listens on 0.0.0.0:50052), or by the host name when it has none.
 */
export function advertisedAddress(
  listen: string,
  port: number,
  advertise = '',
  host: { interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>; name?: string } = {},
): string {
  if (advertise) return advertise;
  const i = listen.lastIndexOf(':');
  const listenHost = i < 0 ? '' : listen.slice(0, i);
  if (!WILDCARD.test(listenHost)) return `${listenHost}:${port}`;
  const ifaces = host.interfaces ?? networkInterfaces();
  for (const list of Object.values(ifaces)) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return `${a.address}:${port}`;
  }
  return `${host.name ?? hostname()}:${port}`;
}

/** The node's id when none is given: the host's name and the port, unique among the nodes of
 *  one host (several cpu processes) and of a compose project (one container each). */
export function defaultNodeId(port: number, name = hostname()): string {
  return toNodeId(`${name}-${port}`);
}

export interface RegistrationOptions {
  id: string;
  addr: string;
  heartbeatMs?: number;
  /** How soon a put is tried again while the bucket is not there yet (dom0 makes it). */
  retryMs?: number;
}

export class NodeRegistration {
  private kv?: KV;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failing = false;
  private readonly entry: CpuNodeEntry;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly opts: RegistrationOptions,
  ) {
    const bad = badNodeAddress(opts.addr);
    if (bad) throw new Error(`cpu node ${opts.id}: its advertised address: ${bad}`);
    this.entry = { id: opts.id, addr: opts.addr, startedAt: Date.now(), pid: process.pid, host: hostname() };
    nodeKey(opts.id);
  }

  /** Puts the entry once (waited for), then keeps putting it. Never rejects: a failed put
   *  is logged and tried again. */
  async start(): Promise<void> {
    await this.beat();
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      this.kv ??= await this.bus.nodeRegistry();
      await this.kv.put(nodeKey(this.entry.id), encodeNodeEntry(this.entry));
      ok = true;
      if (this.failing) this.log.info({ node: this.entry.id, addr: this.entry.addr }, 'registered in the node registry again');
      else if (!this.timer) this.log.info({ node: this.entry.id, addr: this.entry.addr }, 'registered in the node registry');
      this.failing = false;
    } catch (e) {
      this.kv = undefined;
      if (!this.failing)
        this.log.warn(
          { node: this.entry.id, err: (e as Error).message },
          'cannot put this node in the node registry yet (dom0 makes the bucket); trying again',
        );
      this.failing = true;
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.beat(), ok ? (this.opts.heartbeatMs ?? NODE_HEARTBEAT_MS) : (this.opts.retryMs ?? 250));
  }

  /** Stops the heartbeat and deletes the entry: dom0 learns at once that the node is going. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    try {
      const kv = this.kv ?? (await this.bus.nodeRegistry());
      await kv.delete(nodeKey(this.entry.id));
      this.log.info({ node: this.entry.id }, 'deregistered from the node registry');
    } catch (e) {
      this.log.warn({ node: this.entry.id, err: (e as Error).message }, 'could not delete this node from the node registry; its entry ages out');
    }
  }
}
