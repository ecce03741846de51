// A lab's NATS as a cluster: three (or five) nats-servers, routed to one another, JetStream on
// each, and the system's streams and buckets kept with as many replicas (the services are told
// so: SPLITVISOR_NATS_REPLICAS). Every service's URL names every node, so a node killed is a
// lost host: its clients reconnect to another node, JetStream keeps a majority of the copies
// and elects new leaders where it led, and nothing a publisher was told is stored is lost.
// On one machine the nodes are processes on their own ports; on several, the same config with
// each node's host (deploy/compose.cluster.yaml does it with containers).
import { randomBytes } from 'node:crypto';
import { freePort } from './ports.js';

/** Cluster sizes a lab runs: JetStream needs a majority, so an odd number, at most 5. */
export const NATS_CLUSTER_SIZES: readonly number[] = [1, 3, 5];

export interface NatsClusterNode {
  /** The server's name in the cluster (JetStream needs one per server): nats-1, nats-2, … */
  readonly serverName: string;
  /** Where clients connect. */
  readonly clientPort: number;
  /** Where the other nodes open their routes. */
  readonly routePort: number;
}

/** Who is in the cluster and how they reach one another; kept so a node restarts the same. */
export interface NatsClusterPlan {
  readonly name: string;
  readonly host: string;
  readonly nodes: readonly NatsClusterNode[];
  /** The route credentials: without them anyone on the host could join the cluster and read
   *  every subject. Random per lab, only in the nodes' config files (0600, gone once read). */
  readonly routeUser: string;
  readonly routePass: string;
}

/** Checks a cluster size; throws naming it. */
export function checkNatsClusterSize(size: number): number {
  if (!NATS_CLUSTER_SIZES.includes(size))
    throw new Error(`NATS cluster size ${size}: must be ${NATS_CLUSTER_SIZES.join(', ')} (JetStream needs a majority of an odd number)`);
  return size;
}

/** A cluster of `size` nodes on `host`, each on free client and route ports. */
export async function planNatsCluster(host: string, size: number): Promise<NatsClusterPlan> {
  checkNatsClusterSize(size);
  const nodes: NatsClusterNode[] = [];
  const taken = new Set<number>();
  const port = async () => {
    for (;;) {
      const p = await freePort(host);
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (let i = 1; i <= size; i++) nodes.push({ serverName: `nats-${i}`, clientPort: await port(), routePort: await port() });
  return { name: 'splitvisor', host, nodes, routeUser: 'route', routePass: randomBytes(18).toString('hex') };
}

/** Node `index`'s (0-based) part of nats-server's config: its name, route listener and routes. */
export function natsClusterConfig(plan: NatsClusterPlan, index: number): Record<string, unknown> {
  const me = plan.nodes[index];
  if (!me) throw new Error(`NATS cluster node ${index + 1}: the cluster has ${plan.nodes.length}`);
  const auth = `${encodeURIComponent(plan.routeUser)}:${encodeURIComponent(plan.routePass)}@`;
  return {
    server_name: me.serverName,
    cluster: {
      name: plan.name,
      host: plan.host,
      port: me.routePort,
      authorization: { user: plan.routeUser, password: plan.routePass },
      routes: plan.nodes.filter((_, i) => i !== index).map((n) => `nats://${auth}${plan.host}:${n.routePort}`),
    },
  };
}

/** The route port of a cluster whose nodes are hosts of their own (compose: one container each). */
export const NATS_ROUTE_PORT = 6222;

/**
 * The cluster part of nats-server's config when every node is a host of its own, all on the
 * same route port (deploy/compose.cluster.yaml): one config for every node, which names
 * itself with `-n` (server_name) and skips its own route (nats-server detects a route to
 * itself). `hosts` are the nodes' names on the network, checked: 3 or 5 distinct DNS labels.
 */
export function natsHostsClusterConfig(hosts: readonly string[], routeUser: string, routePass: string): Record<string, unknown> {
  if (hosts.length === 1) throw new Error(`NATS cluster nodes ${hosts[0]}: one node is no cluster (3 or 5)`);
  checkNatsClusterSize(hosts.length);
  for (const h of hosts)
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(h)) throw new Error(`NATS cluster node "${h}": not a host name (letters, digits, '-')`);
  if (new Set(hosts).size !== hosts.length) throw new Error(`NATS cluster nodes ${hosts.join(', ')}: a node is named twice`);
  const auth = `${encodeURIComponent(routeUser)}:${encodeURIComponent(routePass)}@`;
  return {
    cluster: {
      name: 'splitvisor',
      listen: `0.0.0.0:${NATS_ROUTE_PORT}`,
      authorization: { user: routeUser, password: routePass },
      routes: hosts.map((h) => `nats://${auth}${h}:${NATS_ROUTE_PORT}`),
    },
  };
}
