// A service under `docker stack deploy` starts before pki has written its volume and before
// NATS listens: it waits (up to SPLITVISOR_START_WAIT_S) and says once what for, and at the
// deadline fails naming what is still missing.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeLabPki } from '@splitvisor/lab';
import type { Bus } from '@splitvisor/bus';
import type { Logger } from '@splitvisor/log';
import { commonOptions, parseConfig } from './index.js';
import { connectWaiting, parseStartWait, waitForStartMaterial } from './start-wait.js';

const root = mkdtempSync(join(tmpdir(), 'sv-startwait-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A logger that keeps what was said at info. */
function recorder() {
  const said: string[] = [];
  const log = { info: (a: unknown, b?: string) => said.push(typeof a === 'string' ? a : (b ?? '')) } as unknown as Logger;
  return { said, log };
}

describe('SPLITVISOR_START_WAIT_S', () => {
  it('is whole seconds, 10 by default', () => {
    expect(parseConfig(commonOptions('mmu'), [], {}).startWait).toBe(10);
    expect(parseConfig(commonOptions('mmu'), [], { SPLITVISOR_START_WAIT_S: '120' }).startWait).toBe(120);
    expect(parseConfig(commonOptions('mmu'), ['--start-wait', '3'], { SPLITVISOR_START_WAIT_S: '120' }).startWait).toBe(3);
  });

  it('refuses anything else, naming the variable and the value', () => {
    for (const bad of ['0', '-1', '10s', '1.5', '1e2', ' 5', '007', '3601', 'x']) {
      expect(() => parseConfig(commonOptions('mmu'), [], { SPLITVISOR_START_WAIT_S: bad }), bad).toThrow(
        `SPLITVISOR_START_WAIT_S: "${bad}" is not a start wait (whole seconds, 1 to 3600)`,
      );
    }
    expect(() => parseStartWait('ten', '--start-wait')).toThrow('--start-wait: "ten" is not a start wait');
  });
});

describe('waitForStartMaterial', () => {
  const issued = join(root, 'issued');
  mkdirSync(issued);
  makeLabPki(issued, { identities: ['mmu'] });

  it('waits for the TLS material and the password file, saying once what it waits for', async () => {
    const dir = join(root, 'late');
    mkdirSync(dir);
    const { said, log } = recorder();
    const waiting = waitForStartMaterial({
      identity: 'mmu',
      tlsDir: dir,
      natsUrl: 'nats://mmu@nats:4222',
      natsPasswordFile: join(dir, 'nats.password'),
      deadline: Date.now() + 10_000,
      log,
      pollMs: 20,
    });
    // pki writes the volume a little later, the key last (a half-written set does not load).
    await new Promise((r) => setTimeout(r, 150));
    cpSync(join(issued, 'mmu', 'ca.crt'), join(dir, 'ca.crt'));
    cpSync(join(issued, 'mmu', 'mmu.crt'), join(dir, 'mmu.crt'));
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(join(dir, 'nats.password'), 's3cret\n');
    cpSync(join(issued, 'mmu', 'mmu.key'), join(dir, 'mmu.key'));
    const m = await waiting;
    expect(m.tls?.identity).toBe('mmu');
    expect(m.natsUrl).toBe('nats://mmu:s3cret@nats:4222');
    expect(said.filter((s) => s.startsWith('waiting for '))).toHaveLength(1);
    expect(said[0]).toMatch(new RegExp(`^waiting for TLS material in ${dir} \\(TLS: cannot read .*ca\\.crt: ENOENT\\); the NATS password`));
  });

  it('at the deadline fails naming what is still missing', async () => {
    const dir = join(root, 'never');
    mkdirSync(dir);
    cpSync(join(issued, 'mmu'), dir, { recursive: true });
    rmSync(join(dir, 'mmu.key'));
    const { log } = recorder();
    const t0 = Date.now();
    await expect(
      waitForStartMaterial({
        identity: 'mmu',
        tlsDir: dir,
        natsUrl: 'nats://mmu@nats:4222',
        natsPasswordFile: join(dir, 'pw'),
        deadline: t0 + 300,
        log,
        pollMs: 20,
      }),
    ).rejects.toThrow(
      `gave up waiting (SPLITVISOR_START_WAIT_S) for TLS material in ${dir} (TLS: cannot read ${join(dir, 'mmu.key')}: ENOENT); the NATS password (NATS password file ${join(dir, 'pw')}: ENOENT)`,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('does not wait on a NATS URL that names no user: that is a mistake, not a slow start', async () => {
    const { log } = recorder();
    const t0 = Date.now();
    await expect(
      waitForStartMaterial({ identity: 'mmu', natsUrl: 'nats://nats:4222', natsPasswordFile: join(root, 'absent'), deadline: t0 + 5000, log }),
    ).rejects.toThrow('the NATS URL nats://nats:4222 names no user');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('without TLS or password file, returns at once with the URL as given', async () => {
    const { said, log } = recorder();
    expect(await waitForStartMaterial({ identity: 'mmu', natsUrl: 'nats://127.0.0.1:4222', deadline: Date.now(), log })).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
    });
    expect(said).toEqual([]);
  });
});

describe('connectWaiting', () => {
  const opts = (deadline: number, log: Logger) => ({ url: 'nats://mmu:pw@nats:4222', shownUrl: 'nats://mmu:***@nats:4222', name: 'mmu', log, deadline });

  it('tries on past a first failure until NATS answers, saying once that it waits', async () => {
    const { said, log } = recorder();
    const timeouts: number[] = [];
    const bus = {} as Bus;
    let calls = 0;
    const connect = async (o: { connectTimeoutMs?: number }) => {
      timeouts.push(o.connectTimeoutMs!);
      if (++calls === 1) throw new Error('cannot connect to NATS at nats:4222: getaddrinfo ENOTFOUND nats');
      return bus;
    };
    expect(await connectWaiting(opts(Date.now() + 60_000, log), connect as never)).toBe(bus);
    expect(said).toEqual(['waiting for NATS at nats://mmu:***@nats:4222', 'NATS answers']);
    // The first try is short (so the wait is said early), the second gets the rest.
    expect(timeouts[0]).toBe(3000);
    expect(timeouts[1]).toBeGreaterThan(50_000);
  });

  it('at the deadline fails with what the last try said', async () => {
    const { log } = recorder();
    const connect = async () => {
      await new Promise((r) => setTimeout(r, 30));
      throw new Error('cannot connect to NATS at nats:4222: timeout');
    };
    await expect(connectWaiting(opts(Date.now() + 50, log), connect as never)).rejects.toThrow(
      'gave up waiting (SPLITVISOR_START_WAIT_S): cannot connect to NATS at nats:4222: timeout',
    );
  });
});
