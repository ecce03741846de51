// NATS for tests: testcontainers' NATS module where a Docker engine answers, the local
// nats-server binary otherwise. Either way a real server on a free port, torn down after.
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

/** True when a Docker engine could answer (a socket or DOCKER_HOST), without waiting on it. */
export function dockerEngineLikely(): boolean {
  if (process.env['SPLITVISOR_TEST_NO_DOCKER'] === '1') return false;
  if (process.env['DOCKER_HOST']) return true;
  return existsSync('/var/run/docker.sock');
}

async function tryContainer(): Promise<TestNats | undefined> {
  try {
    const { NatsContainer } = await import('@testcontainers/nats');
    const c = await new NatsContainer('nats:2.10').withJetStream().start();
    const url = `nats://${c.getHost()}:${c.getMappedPort(4222)}`;
    return {
      url,
      kind: 'container',
      stop: async () => void (await c.stop()),
      kill: async () => void (await c.stop({ timeout: 0 })),
    };
  } catch {
    return undefined; // the socket exists but no engine answers: fall back to the binary
  }
}

export async function startTestNats(): Promise<TestNats> {
  if (dockerEngineLikely()) {
    const c = await tryContainer();
    if (c) return c;
  }
  const h: NatsServerHandle = await startNatsServer();
  return { url: h.url, kind: 'binary', stop: () => h.stop(), kill: () => h.kill() };
}
