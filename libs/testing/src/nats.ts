// NATS for tests: testcontainers' NATS module where a Docker engine answers, the local
// nats-server binary otherwise. Either way a real server on a free port, torn down after.
//
// The container is the image tagged nats:2.10: pulled where the registry answers, else the
// stand-in scripts/seed-docker-images.sh makes (npm test seeds it). testcontainers' reaper
// (ryuk) is another image we cannot pull, so it is off unless TESTCONTAINERS_RYUK_DISABLED
// says otherwise: each test stops its own container, and scripts/ensure-docker.sh removes
// any a killed test runner left (they carry testcontainers' label).
//
// A test that must restart NATS on the same port and store (tests/src/nats-restart.spec.ts)
// starts the binary itself (startNatsServer): a container comes back on another host port.
import { existsSync } from 'node:fs';
import { startNatsServer, type NatsServerHandle } from '@splitvisor/lab';

export interface TestNats {
  url: string;
  /** 'container' or 'binary', so a test log says which real server it used. */
  kind: 'container' | 'binary';
  stop(): Promise<void>;
  /** SIGKILL (binary) or container kill: for fault tests. */
  kill(): Promise<void>;
}

/** The image libs/testing asks testcontainers for. */
export const TEST_NATS_IMAGE = 'nats:2.10';

/** True when a Docker engine could answer (a socket or DOCKER_HOST), without waiting on it. */
export function dockerEngineLikely(): boolean {
  if (process.env['SPLITVISOR_TEST_NO_DOCKER'] === '1') return false;
  if (process.env['DOCKER_HOST']) return true;
  return existsSync('/var/run/docker.sock');
}

/** Set once a container could not be had: this process then uses the binary without asking again. */
let noContainer = false;

async function tryContainer(): Promise<TestNats | undefined> {
  process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
  try {
    const { NatsContainer } = await import('@testcontainers/nats');
    // The module starts its server with --user test --pass test; ours is open, as the local
    // binary is, so the services and tests connect with the URL alone.
    class OpenNatsContainer extends NatsContainer {
      override withCommand(command: string[]): this {
        const open = command.filter((a, i) => a !== '--user' && a !== '--pass' && command[i - 1] !== '--user' && command[i - 1] !== '--pass');
        return super.withCommand(open);
      }
    }
    const c = await new OpenNatsContainer(TEST_NATS_IMAGE).withJetStream().start();
    // 127.0.0.1, not "localhost": a published port answers on IPv4 (::1 may refuse).
    const host = c.getHost() === 'localhost' ? '127.0.0.1' : c.getHost();
    return {
      url: `nats://${host}:${c.getMappedPort(4222)}`,
      kind: 'container',
      stop: async () => void (await c.stop()),
      kill: async () => void (await c.stop({ timeout: 0 })),
    };
  } catch (e) {
    // The socket is there but no engine answers, or the image is missing: say so once.
    if (!noContainer) {
      noContainer = true;
      process.stderr.write(`test NATS: no container (${(e as Error).message.split('\n')[0]}); the local nats-server instead\n`);
    }
    return undefined;
  }
}

export async function startTestNats(): Promise<TestNats> {
  if (dockerEngineLikely() && !noContainer) {
    const c = await tryContainer();
    if (c) return c;
  }
  const h: NatsServerHandle = await startNatsServer();
  return { url: h.url, kind: 'binary', stop: () => h.stop(), kill: () => h.kill() };
}
