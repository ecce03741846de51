// The common life of a service process: parse config, log, connect NATS, serve gRPC with
// health, and on SIGTERM/SIGINT stop in order (health NOT_SERVING, the service's own stop,
// in-flight calls finish or time out, NATS drained), then exit 0.
import { createLogger, type Logger } from '@splitvisor/log';
import { RpcServer, accessInterceptor, useTls } from '@splitvisor/rpc';
import type { Bus } from '@splitvisor/bus';
import { DEFAULT_PORTS, type ServiceName } from '@splitvisor/lab';
import { ConfigError, parseConfig, parsers, usage, type OptionSpecs } from './config.js';
import { ACCESS } from './access.js';
import { followFaults } from './faults.js';
import { connectWaiting, parseStartWait, redact, waitForStartMaterial } from './start-wait.js';

export { natsUrlWithPassword } from './start-wait.js';

export interface CommonConfig {
  nats: string;
  listen: string;
  logLevel: string;
  /** Mutual TLS material (ca.crt, <service>.crt, <service>.key); '' or absent for plaintext. */
  tlsDir?: string;
  /** A file holding this service's NATS password (the URL names the user): kept out of the
   *  command line and the environment. */
  natsPasswordFile?: string;
  /** JetStream copies of the streams and buckets this service creates (1, 3 or 5). */
  natsReplicas?: number;
  /** Seconds to wait at start for the TLS material, the NATS password file and NATS. */
  startWait?: number;
}

export function commonOptions(name: ServiceName): OptionSpecs<CommonConfig> {
  return {
    nats: {
      flag: 'nats',
      env: 'SPLITVISOR_NATS_URL',
      help: "NATS server URL, or a cluster's, comma-separated",
      default: 'nats://127.0.0.1:4222',
      parse: parsers.natsUrl,
    },
    natsReplicas: {
      flag: 'nats-replicas',
      env: 'SPLITVISOR_NATS_REPLICAS',
      help: 'JetStream copies of each stream and bucket: 1, or 3 or 5 on a NATS cluster of that many',
      default: '1',
      parse: parsers.natsReplicas,
    },
    listen: {
      flag: 'listen',
      env: 'SPLITVISOR_LISTEN',
      help: 'gRPC listen address host:port',
      default: `127.0.0.1:${DEFAULT_PORTS[name]}`,
      parse: parsers.hostPort,
    },
    logLevel: { flag: 'log-level', env: 'SPLITVISOR_LOG_LEVEL', help: 'fatal|error|warn|info|debug|trace', default: 'info', parse: parsers.logLevel },
    tlsDir: {
      flag: 'tls-dir',
      env: 'SPLITVISOR_TLS_DIR',
      help: `mutual TLS: ca.crt, ${name}.crt and ${name}.key here (empty: plaintext)`,
      default: '',
      parse: (raw) => raw,
    },
    natsPasswordFile: {
      flag: 'nats-password-file',
      env: 'SPLITVISOR_NATS_PASSWORD_FILE',
      help: 'a file holding the NATS password of the user the NATS URL names (empty: none, or in the URL)',
      default: '',
      parse: (raw) => raw,
    },
    startWait: {
      flag: 'start-wait',
      env: 'SPLITVISOR_START_WAIT_S',
      // A stack (docker stack deploy) starts everything at once: pki's volumes and NATS come
      // a few seconds after the services (start-wait.ts).
      help: 'seconds to wait at start for the TLS material, the NATS password file and NATS to answer',
      default: '10',
      parse: parseStartWait,
    },
  };
}

export interface ServiceContext<C> {
  config: C & CommonConfig;
  log: Logger;
  bus: Bus;
  server: RpcServer;
}

export interface RunningService {
  /** Called once the gRPC server listens, with the port it bound (work that must not
   *  begin before others can reach this process: announcing it). */
  started?(listening: { port: number }): Promise<void>;
  /** Called on SIGTERM before the gRPC server stops: finish or fail in-flight work. */
  stop(): Promise<void>;
}

export interface ServiceDefinition<C> {
  name: ServiceName;
  /** The gRPC service name announced in health, e.g. splitvisor.cpu.v1.Cpu. */
  grpcService: string;
  options: OptionSpecs<C>;
  /** Registers handlers on ctx.server (which starts after this returns) and starts work. */
  setup(ctx: ServiceContext<C>): Promise<RunningService>;
}

export async function runService<C>(def: ServiceDefinition<C>, argv = process.argv.slice(2), env = process.env): Promise<void> {
  const specs = { ...commonOptions(def.name), ...def.options } as OptionSpecs<C & CommonConfig>;
  if (argv.includes('--help')) {
    process.stdout.write(usage(def.name, specs));
    return;
  }
  let config: C & CommonConfig;
  try {
    config = parseConfig(specs, argv, env);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof Error) {
      process.stderr.write(`${def.name}: ${e.message}\n${usage(def.name, specs)}`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger({ service: def.name, level: config.logLevel });
  try {
    // What this process needs before anything else, waited for up to --start-wait: under
    // `docker stack deploy` nothing orders the start (start-wait.ts).
    const deadline = Date.now() + (config.startWait ?? 10) * 1000;
    const material = await waitForStartMaterial({
      identity: def.name,
      tlsDir: config.tlsDir,
      natsUrl: config.nats,
      natsPasswordFile: config.natsPasswordFile,
      deadline,
      log,
    });
    // Every server and client of this process speaks TLS as this service from here on.
    if (material.tls) useTls(material.tls);
    const bus: Bus = await connectWaiting({
      url: material.natsUrl,
      shownUrl: redact(config.nats),
      name: def.name,
      log,
      ...(config.natsReplicas !== undefined && { replicas: config.natsReplicas }),
      deadline,
    });
    // The fault plane: this process applies dom0's link faults on the links it originates.
    const unfollowFaults = followFaults(bus, def.name, log);
    const server = new RpcServer({
      name: def.grpcService,
      listen: config.listen,
      log,
      ...(config.tlsDir && { interceptors: [accessInterceptor(ACCESS)] }),
    });
    const running = await def.setup({ config, log, bus, server });
    const port = await server.start();
    await running.started?.({ port });
    log.info({ listen: config.listen, port, nats: redact(config.nats), pid: process.pid, tls: Boolean(config.tlsDir) }, `${def.name} serving`);
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, `${def.name} stopping`);
      server.health.shutdown();
      try {
        await running.stop();
        unfollowFaults();
        await server.stop(5000);
        await bus.drain();
        log.info(`${def.name} stopped`);
        process.exit(0);
      } catch (e) {
        log.error({ err: (e as Error).message }, 'unclean stop');
        process.exit(1);
      }
    };
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));
  } catch (e) {
    log.fatal({ err: (e as Error).message }, `${def.name} failed to start`);
    process.exit(1);
  }
}
