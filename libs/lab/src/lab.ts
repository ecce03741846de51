// A lab: nats-server plus the four services as child processes, started in dependency order,
// each waited on through grpc.health.v1, stopped in reverse order. `splitvisor up` and the
// whole-system tests both use it, so what the tests run is what people run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { loadTls, waitForServing, type TlsMaterial } from '@splitvisor/rpc';
import { followLines } from './child-lines.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { makeLabPki, newLabId } from './pki.js';
import { checkNatsClusterSize, natsClusterConfig, planNatsCluster, type NatsClusterPlan } from './nats-cluster.js';
import { NODE_REGISTRY, natsPasswordsFor, writeNatsAuthConfig } from './nats-auth.js';
import { INSECURE_LAB_WARNING } from './insecure.js';
import { freePort, isListening } from './ports.js';
import { DEFAULT_PORTS, SERVICE_ORDER, serviceMain, serviceOf, type InstanceName, type ServiceName } from './services.js';

export interface LabOptions {
  /** Use this NATS instead of starting one. */
  natsUrl?: string;
  /** Fixed ports; otherwise free ones are picked (defaults would clash between labs). */
  ports?: Partial<Record<ServiceName, number>>;
  /** Use the default ports 50051..50054 where free. */
  preferDefaultPorts?: boolean;
  host?: string;
  logLevel?: string;
  /** Each line a service prints, with its name. */
  onLine?: (service: InstanceName | 'nats', line: string) => void;
  /** Extra environment for every service, or per service (a service's entry applies to
   *  all its instances; an instance's own entry, e.g. `cpu-2`, comes on top). */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<InstanceName, Record<string, string>>>;
  /** How many cpu processes (nodes) to run, default 1: `cpu`, then `cpu-2`, `cpu-3`, …;
   *  dom0 finds them in the node registry (NATS KV), as it would in any deployment. */
  cpuNodes?: number;
  /** Mutual TLS between the services (a lab CA, one certificate per service, only dom0
   *  on the admin APIs) and NATS users with permissions per service: the default. The lab
   *  starts its own NATS then (`natsUrl` cannot be given). `false` (tests and benches that
   *  study speed) prints what it gives up, through `warn`. */
  secure?: boolean;
  /** Where the warning of an insecure lab goes (default: stderr). */
  warn?: (message: string) => void;
  /** NATS as a cluster of this many nodes (1, 3 or 5; default 1), JetStream keeping as many
   *  copies of every stream and bucket (nats-cluster.ts). */
  natsCluster?: number;
  /** Which services to start (default: all four). */
  only?: readonly ServiceName[];
  healthTimeoutMs?: number;
}

/** What a secure lab made: where each identity's material is, and the NATS passwords
 *  (which the launcher keeps in memory; each service has only its own, in a file). */
export interface LabSecurity {
  /** The lab's name in its certificates (`<identity>.<labId>.splitvisor`). */
  labId: string;
  /** The lab's 0700 directory: one 0700 directory per identity in it, nothing else. */
  root: string;
  /** The CLI's directory (ca.crt, cli.crt, cli.key): what lab.json names. */
  dir: string;
  /** identity -> its directory: ca.crt, <identity>.crt/.key, and a service's nats.password. */
  dirs: Record<string, string>;
  natsPasswords: Record<string, string>;
}

/** The file in a service's directory that holds its NATS password. */
export const NATS_PASSWORD_FILE = 'nats.password';

export interface ServiceProcess {
  readonly name: InstanceName;
  readonly address: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class Lab {
  readonly services = new Map<InstanceName, ServiceProcess>();
  private stopping = false;
  /** mmu's guest RAM files: one fresh dir per lab, kept across restarts of mmu (that is
   *  what a restart is for), removed when the lab stops. */
  private mmuDataDir: string | undefined;

  private constructor(
    readonly natsUrl: string,
    readonly addresses: Record<ServiceName, string>,
    /** The lab's NATS nodes (one unless a cluster; none when it was given a URL). A node
     *  killed in a cluster stays down (undefined) until it is restarted. */
    private readonly nats: (NatsServerHandle | undefined)[],
    private readonly opts: LabOptions,
    /** Every cpu node's address, `cpu`'s first. */
    readonly cpuAddresses: readonly string[] = [addresses.cpu],
    readonly security?: LabSecurity,
    private readonly cluster?: NatsClusterPlan,
  ) {
    this.natsStores = nats.map((n) => ({ host: new URL(n!.url.replace('nats://', 'http://')).hostname, port: n!.port, storeDir: n!.storeDir }));
  }

  /** The NATS URL a user (a service name) connects with: its password in it when secure. */
  natsUrlFor(user: string): string {
    if (!this.security) return this.natsUrl;
    const pw = this.security.natsPasswords[user];
    if (pw === undefined) throw new Error(`no NATS user "${user}" in this lab (${Object.keys(this.security.natsPasswords).join(', ')})`);
    return this.natsUrl.replace('nats://', `nats://${encodeURIComponent(user)}:${pw}@`);
  }

  /** An identity's TLS material in a secure lab (dom0, cpu, mmu, io-backend, cli). */
  tls(identity: string): TlsMaterial | undefined {
    if (!this.security) return undefined;
    const dir = this.security.dirs[identity];
    if (dir === undefined) throw new Error(`no identity "${identity}" in this lab (${Object.keys(this.security.dirs).join(', ')})`);
    return loadTls(dir, identity);
  }

  /** The NATS server the lab started itself (none when it was given one); a cluster's first node. */
  get natsServer(): NatsServerHandle | undefined {
    return this.nats[0];
  }

  /** The NATS nodes' names a fault may name: `nats` for a lone server, nats-1… for a cluster's. */
  get natsNodeNames(): string[] {
    if (this.nats.length === 0) return [];
    return this.cluster ? this.cluster.nodes.map((n) => n.serverName) : ['nats'];
  }

  /** How many copies JetStream keeps of each stream and bucket. */
  get natsReplicas(): number {
    return this.cluster?.nodes.length ?? 1;
  }

  /** A node's index from its name (`nats`, or nats-N in a cluster); throws naming the choices. */
  private natsNodeIndex(node: string): number {
    const i = this.natsNodeNames.indexOf(node);
    if (i < 0) throw new Error(`${node}: this lab's NATS ${this.nats.length === 0 ? "is not the lab's" : `nodes are ${this.natsNodeNames.join(', ')}`}`);
    return i;
  }

  /**
   * A cluster node killed (SIGKILL), and left down, as a lost host is: the services move to
   * the other nodes and JetStream goes on with its majority. restartNats brings it back.
   */
  async killNatsNode(node: string): Promise<{ oldPid: number | undefined }> {
    if (!this.cluster) throw new Error(`${node}: only a cluster's node stays down when killed (a lone NATS is restarted: restartNats)`);
    const i = this.natsNodeIndex(node);
    const old = this.nats[i];
    if (!old) throw new Error(`${node} is down already`);
    const majority = Math.floor(this.cluster.nodes.length / 2) + 1;
    if (this.nats.filter(Boolean).length - 1 < majority) {
      throw new Error(
        `${node}: killing it would leave JetStream fewer than ${majority} of ${this.cluster.nodes.length} nodes, no majority (restart one first)`,
      );
    }
    await old.kill();
    this.nats[i] = undefined;
    return { oldPid: old.pid };
  }

  /**
   * NATS killed (SIGKILL: a crash) or stopped (SIGTERM), then started again on the same
   * port, store and users, as a restarted container would be: core NATS keeps nothing in
   * flight, JetStream (the VM store, the xenbus tree, the event streams) is on disk. The
   * services reconnect by themselves. Resolves with the old and new pids.
   */
  async restartNats(how: 'kill' | 'restart', node = this.natsNodeNames[0] ?? 'nats'): Promise<{ oldPid: number | undefined; pid: number | undefined }> {
    if (this.nats.length === 0) throw new Error('this lab was given a NATS server; it cannot restart one it did not start');
    if (this.stopping) throw new Error('the lab is stopping');
    const i = this.natsNodeIndex(node);
    const old = this.nats[i];
    if (old && how === 'kill') await old.kill();
    else if (old) await old.terminate();
    const again = this.natsStores[i]!;
    this.nats[i] = await startLabNats(again.host, this.security, this.opts, again, this.cluster && { plan: this.cluster, index: i });
    return { oldPid: old?.pid, pid: this.nats[i].pid };
  }

  /** Each node's host, port and store, so a restart finds its streams where it left them. */
  private readonly natsStores: { host: string; port: number; storeDir: string }[];

  /** The lab's processes in start order (all, or those of `only`): the extra cpu nodes right after `cpu`. */
  private order(only: readonly ServiceName[] = SERVICE_ORDER): InstanceName[] {
    const extra = this.cpuAddresses.slice(1).map((_, i): InstanceName => `cpu-${i + 2}`);
    return only.flatMap((n): InstanceName[] => (n === 'cpu' ? ['cpu', ...extra] : [n]));
  }

  addressOf(name: InstanceName): string {
    if (name.startsWith('cpu-')) {
      const a = this.cpuAddresses[Number(name.slice(4)) - 1];
      if (a === undefined) throw new Error(`${name}: this lab has ${this.cpuAddresses.length} cpu node(s)`);
      return a;
    }
    return this.addresses[name as ServiceName];
  }

  static async start(opts: LabOptions = {}): Promise<Lab> {
    const host = opts.host ?? '127.0.0.1';
    let nats: NatsServerHandle[] = [];
    let security: LabSecurity | undefined;
    const secure = opts.secure ?? true;
    const clusterSize = checkNatsClusterSize(opts.natsCluster ?? 1);
    if (clusterSize > 1 && opts.natsUrl) throw new Error('a lab with a NATS cluster starts its own (do not give natsUrl)');
    const cluster = clusterSize > 1 ? await planNatsCluster(host, clusterSize) : undefined;
    if (secure) {
      if (opts.natsUrl) throw new Error('a secure lab starts its own NATS (users and permissions); do not give natsUrl (or say secure: false)');
      security = issueLabSecurity();
    } else {
      (opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(INSECURE_LAB_WARNING);
    }
    try {
      if (!opts.natsUrl) nats = await startLabNatsNodes(host, security, opts, cluster);
    } catch (e) {
      if (security) rmSync(security.root, { recursive: true, force: true });
      throw e;
    }
    const addresses = {} as Record<ServiceName, string>;
    // The ports handed out so far: none is bound until its service starts, so each looks
    // free to the next draw. Two services on one port would not both fail: gRPC servers
    // bind with SO_REUSEPORT, and calls would reach either.
    const taken = new Set<number>();
    const draw = async () => {
      const port = await freePort(host, taken);
      taken.add(port);
      return port;
    };
    for (const name of SERVICE_ORDER) {
      let port = opts.ports?.[name];
      if (port === undefined && opts.preferDefaultPorts) {
        if (!(await isListening(DEFAULT_PORTS[name], host))) port = DEFAULT_PORTS[name];
      }
      if (port !== undefined) taken.add(port);
      addresses[name] = `${host}:${port ?? (await draw())}`;
    }
    const cpuNodes = opts.cpuNodes ?? 1;
    if (!Number.isInteger(cpuNodes) || cpuNodes < 1 || cpuNodes > 16) throw new Error(`cpuNodes ${cpuNodes}: must be 1..16`);
    const cpuAddresses = [addresses.cpu];
    for (let i = 1; i < cpuNodes; i++) cpuAddresses.push(`${host}:${await draw()}`);
    const lab = new Lab(opts.natsUrl ?? nats.map((n) => n.url).join(','), addresses, nats, opts, cpuAddresses, security, cluster);
    try {
      await lab.makeNodeRegistry();
      for (const name of lab.order(opts.only)) await lab.startService(name);
    } catch (e) {
      await lab.stop();
      throw e;
    }
    return lab;
  }

  /**
   * The cpu node registry's bucket, made as dom0 would make it, before any service starts:
   * each cpu node registers as soon as it serves, so dom0 finds every one of them when it
   * starts (a cpu that finds no bucket tries again until dom0 makes it, as in compose).
   */
  private async makeNodeRegistry(): Promise<void> {
    const urls = this.natsUrlFor('dom0')
      .split(',')
      .map((u) => new URL(u.replace(/^nats:/, 'http:')));
    const nc = await connect({
      servers: urls.map((u) => `${u.hostname}:${u.port}`),
      ...(urls[0]!.username && { user: decodeURIComponent(urls[0]!.username), pass: decodeURIComponent(urls[0]!.password) }),
      name: 'lab',
      timeout: 5000,
    });
    try {
      // A new cluster elects JetStream's leader first: until then the request fails.
      const until = Date.now() + 30_000;
      for (;;) {
        try {
          await new Kvm(nc).create(NODE_REGISTRY.bucket, { history: 1, ttl: NODE_REGISTRY.ttlMs, replicas: this.natsReplicas });
          break;
        } catch (e) {
          if (Date.now() > until) throw new Error(`the node registry's bucket: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      await nc.drain();
    }
  }

  /** A service's environment. In a secure lab it names the service's own directory and its
   *  NATS user; the password is in a file there, not in the environment. */
  envFor(name: InstanceName): Record<string, string> {
    const own = this.security?.dirs[serviceOf(name)];
    return {
      SPLITVISOR_NATS_URL: this.security ? this.natsUrl.replace('nats://', `nats://${encodeURIComponent(serviceOf(name))}@`) : this.natsUrl,
      ...(own && { SPLITVISOR_TLS_DIR: own, SPLITVISOR_NATS_PASSWORD_FILE: join(own, NATS_PASSWORD_FILE) }),
      SPLITVISOR_LISTEN: this.addressOf(name),
      SPLITVISOR_LOG_LEVEL: this.opts.logLevel ?? 'info',
      SPLITVISOR_MMU_ADDR: this.addresses.mmu,
      SPLITVISOR_IO_ADDR: this.addresses['io-backend'],
      ...(this.cluster && { SPLITVISOR_NATS_REPLICAS: String(this.natsReplicas) }),
      ...(name === 'mmu' ? { SPLITVISOR_MMU_DATA_DIR: (this.mmuDataDir ??= mkdtempSync(join(tmpdir(), 'splitvisor-lab-mmu-'))) } : {}),
      ...(this.opts.env ?? {}),
      ...(this.opts.serviceEnv?.[serviceOf(name)] ?? {}),
      ...(name !== serviceOf(name) ? (this.opts.serviceEnv?.[name] ?? {}) : {}),
    };
  }

  /** Starts (or restarts) one service and waits until its health says SERVING. */
  async startService(name: InstanceName): Promise<ServiceProcess> {
    if (this.stopping) throw new Error(`${name}: the lab is stopping`);
    const main = serviceMain(serviceOf(name));
    if (!existsSync(main)) throw new Error(`${name}: ${main} does not exist; build first (npm run build)`);
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, ...this.envFor(name) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail = followLines(child, 30, (line) => this.opts.onLine?.(name, line));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const proc: ServiceProcess = { name, address: this.addressOf(name), child, exited };
    this.services.set(name, proc);
    try {
      await Promise.race([
        waitForServing(proc.address, this.opts.healthTimeoutMs ?? 20_000, '', this.tls('cli'), serviceOf(name)),
        exited.then((x) => {
          throw new Error(`${name} exited (code ${x.code}, signal ${x.signal}) before serving:\n${tail.join('\n')}`);
        }),
      ]);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    return proc;
  }

  /** Sends a signal to one service and waits for it to exit (fault injection: SIGKILL). */
  async signalService(name: InstanceName, sig: NodeJS.Signals, timeoutMs = 10_000) {
    const p = this.services.get(name);
    if (!p) throw new Error(`${name} is not running in this lab`);
    p.child.kill(sig);
    const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
    const res = await p.exited;
    clearTimeout(t);
    return res;
  }

  get running(): boolean {
    return !this.stopping;
  }

  /** SIGTERM to every service in reverse start order, then NATS. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const name of this.order().reverse()) {
      const p = this.services.get(name);
      if (p && p.child.exitCode === null && p.child.signalCode === null) await this.signalService(name, 'SIGTERM');
    }
    for (const n of this.nats) await n?.stop();
    if (this.mmuDataDir) rmSync(this.mmuDataDir, { recursive: true, force: true });
    if (this.security) rmSync(this.security.root, { recursive: true, force: true });
  }
}

/** The lab's nats-server: with its users and permissions when secure. nats-server reads its
 *  config (every user's password) once, at start: the file lives only until it listens. */
async function startLabNats(
  host: string,
  security: LabSecurity | undefined,
  opts: LabOptions,
  again?: { port: number; storeDir: string },
  member?: { plan: NatsClusterPlan; index: number },
): Promise<NatsServerHandle> {
  const port = again?.port ?? member?.plan.nodes[member.index]!.clientPort;
  const where = {
    host,
    ...(port !== undefined && { port }),
    ...(again && { storeDir: again.storeDir, removeStoreOnStop: true }),
    onLog: (l: string) => opts.onLine?.('nats', member ? `${member.plan.nodes[member.index]!.serverName}: ${l}` : l),
  };
  if (!security && !member) return startNatsServer(where);
  // The users' passwords and the route credentials: in a 0600 file inside a 0700 directory,
  // never on a command line, and only until the server has read it.
  const confDir = mkdtempSync(join(security?.root ?? tmpdir(), '.nats-'));
  try {
    const conf = join(confDir, 'nats.conf');
    const cluster = member ? natsClusterConfig(member.plan, member.index) : {};
    if (security) writeNatsAuthConfig(conf, security.natsPasswords, cluster);
    else writeFileSync(conf, JSON.stringify(cluster, null, 2) + '\n', { mode: 0o600 });
    return await startNatsServer({ ...where, args: ['-c', conf] });
  } finally {
    rmSync(confDir, { recursive: true, force: true });
  }
}

/** The lab's NATS: one server, or every node of `cluster` (each routes to the others; all
 *  started before JetStream can elect a leader, which makeNodeRegistry waits for). */
async function startLabNatsNodes(host: string, security: LabSecurity | undefined, opts: LabOptions, cluster?: NatsClusterPlan): Promise<NatsServerHandle[]> {
  if (!cluster) return [await startLabNats(host, security, opts)];
  const started: NatsServerHandle[] = [];
  try {
    for (let index = 0; index < cluster.nodes.length; index++) started.push(await startLabNats(host, security, opts, undefined, { plan: cluster, index }));
  } catch (e) {
    for (const n of started) await n.stop();
    throw e;
  }
  return started;
}

/** A lab's PKI and NATS passwords: a 0700 root, one 0700 directory per identity holding
 *  only its own material (and a service's NATS password); the CA key was never on disk. */
function issueLabSecurity(): LabSecurity {
  const labId = newLabId();
  const root = mkdtempSync(join(tmpdir(), `splitvisor-lab-${labId}-`));
  try {
    const pki = makeLabPki(root, { labId });
    const natsPasswords = natsPasswordsFor(SERVICE_ORDER);
    for (const [user, pw] of Object.entries(natsPasswords)) writeFileSync(join(pki.dirs[user]!, NATS_PASSWORD_FILE), `${pw}\n`, { mode: 0o600 });
    return { labId: pki.labId, root, dir: pki.dirs['cli']!, dirs: pki.dirs, natsPasswords };
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}
