// Faults on purpose: a service missing when the guest needs it, SIGTERM to each service
// while a guest runs. Nothing may hang; every end must say why.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { labEnv, runCli } from './cli-runner.js';

let t: TestLab | undefined;
afterEach(async () => {
  await t?.teardown();
  t = undefined;
});

interface VmRow {
  name: string;
  state: string;
  reason: string;
  exitCode: number;
}

async function vm(env: Record<string, string>, name: string): Promise<VmRow | undefined> {
  const r = await runCli(['list', '--json'], { env });
  if (r.code !== 0) throw new Error(`list failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as VmRow[]).find((v) => v.name === name);
}

async function waitForState(env: Record<string, string>, name: string, states: string[], timeoutMs = 15_000): Promise<VmRow> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await vm(env, name);
    if (v && states.includes(v.state)) return v;
    if (Date.now() > end) throw new Error(`vm ${name} not in ${states.join('/')} after ${timeoutMs} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The echo guest polls its UART forever while no input comes: an exit at least every 200 ms
 *  (its LSR polls come from the read shadow, which expires). */
async function startEcho(lab: TestLab): Promise<Record<string, string>> {
  const env = labEnv(lab);
  expect((await runCli(['create', 'examples/echo.yaml'], { env })).code).toBe(0);
  expect((await runCli(['start', 'echo'], { env })).code).toBe(0);
  await new Promise((r) => setTimeout(r, 500));
  return env;
}

describe('a service that is not there', () => {
  it('io-backend gone when the guest touches the UART: the VM fails by the deadline, naming io-backend', async () => {
    t = await startTestLab({ serviceEnv: { cpu: { SPLITVISOR_EXIT_DEADLINE_MS: '1000' } } });
    const env = labEnv(t);
    expect((await runCli(['create', 'examples/hello.yaml'], { env })).code).toBe(0);
    await t.lab.signalService('io-backend', 'SIGKILL');
    const t0 = Date.now();
    expect((await runCli(['start', 'hello'], { env })).code).toBe(0);
    const v = await waitForState(env, 'hello', ['failed', 'stopped']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(v.state).toBe('failed');
    // The guest's first UART access is its LSR poll before the first byte.
    expect(v.reason).toMatch(/MMIO read of 1 bytes at 0x10000005 failed: io-backend at 127\.0\.0\.1:\d+ (UNAVAILABLE|DEADLINE_EXCEEDED)/);
  });
});

describe('SIGTERM to each service while a guest runs', () => {
  it('io-backend: exits 0; the VM fails with a reason that names io-backend', async () => {
    t = await startTestLab();
    const env = await startEcho(t);
    const res = await t.lab.signalService('io-backend', 'SIGTERM');
    expect(res).toEqual({ code: 0, signal: null });
    const v = await waitForState(env, 'echo', ['failed']);
    expect(v.reason).toMatch(/io-backend/);
  });

  it('cpu: exits 0 after stopping its vCPUs; dom0 records why', async () => {
    t = await startTestLab();
    const env = await startEcho(t);
    const res = await t.lab.signalService('cpu', 'SIGTERM');
    expect(res).toEqual({ code: 0, signal: null });
    const v = await waitForState(env, 'echo', ['failed']);
    expect(v.reason).toMatch(/stopped: cpu service shutting down/);
  });

  it('mmu: exits 0; the running guest does not need it for pages it already holds', async () => {
    t = await startTestLab();
    const env = await startEcho(t);
    const res = await t.lab.signalService('mmu', 'SIGTERM');
    expect(res).toEqual({ code: 0, signal: null });
    await new Promise((r) => setTimeout(r, 500));
    expect((await vm(env, 'echo'))?.state).toBe('running');
  });

  it('dom0: exits 0; the VM keeps running, and a restarted dom0 still lists it running', async () => {
    t = await startTestLab();
    const env = await startEcho(t);
    const res = await t.lab.signalService('dom0', 'SIGTERM');
    expect(res).toEqual({ code: 0, signal: null });
    await t.lab.startService('dom0');
    expect(await vm(env, 'echo')).toMatchObject({ state: 'running' });
    // The data plane never stopped: input still reaches the guest and it powers off.
    const r = await runCli(['console', 'echo'], { env, input: 'q' });
    expect(r.stdout).toMatch(/echo ready\r\nq\r\nbye\r\n$/);
    expect((await waitForState(env, 'echo', ['stopped'])).exitCode).toBe(0);
  });
});
