// io-backend killed under running VMs (issue 15): the supervisor of `splitvisor up` starts
// it again, and the new one takes every VM's devices over from the xenbus tree (their
// saved setup, the queues resumed at used.idx, the IRQ lines re-synced) while the vCPUs
// wait in their MMIO exits (asked again until SPLITVISOR_EXIT_DEADLINE_MS). One lab for
// the file, secure as `up` makes it by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { REPO_ROOT } from '@splitvisor/testing';
import { Bus, kvKeys } from '@splitvisor/bus';
import { createLogger } from '@splitvisor/log';
import { configDir, runCli, spawnCli } from './cli-runner.js';
import { ConsoleProcess } from './console-process.js';
import { HELLO_CONSOLE } from './guest-expectations.js';
import { waitFor } from './dom0-helpers.js';
import { FIRMWARE } from './uboot-console.js';

interface Status {
  name: string;
  state: string;
  pid?: number;
  restarts: number;
}
interface State {
  natsUrl: string;
  tlsDir?: string;
  services?: Status[];
}

const dir = mkdtempSync(join(tmpdir(), 'sv-iorestart-'));
// A vCPU in an MMIO exit asks io-backend again for this long before its VM fails: above
// the restart (backoff 0.5 s, then the process starts and takes the VMs over).
const env = { SPLITVISOR_LAB_DIR: dir, SPLITVISOR_DOM0_ADDR: undefined, SPLITVISOR_NATS_URL: undefined, SPLITVISOR_EXIT_DEADLINE_MS: '10000' };
let up: ChildProcessWithoutNullStreams;
let upErr = '';
/** The services' log lines as `up` prints them. */
const upLines: { at: number; text: string }[] = [];
const state = () => JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as State;
const svc = (name: string) => state().services?.find((s) => s.name === name);
const cli = (args: string[], timeoutMs = 60_000) => runCli(args, { env, timeoutMs });
async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}
const configs = configDir('sv-iorestart-vms-');
const ioLines = (from: number) => upLines.filter((l) => l.at >= from && /io-backend/.test(l.text)).map((l) => l.text);

/** `splitvisor console <vm>`, with each tick line's number and when it came. */
function console(name: string) {
  const c = new ConsoleProcess(spawnCli(['console', name], { env }));
  const lineTimes: { at: number; text: string }[] = [];
  let partial = '';
  c.child.stdout.on('data', (b: Buffer) => {
    partial += b.toString('latin1');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      lineTimes.push({ at: Date.now(), text: partial.slice(0, nl).replace(/\r$/, '') });
      partial = partial.slice(nl + 1);
    }
  });
  const ticks = () => lineTimes.flatMap((l) => (/^tick (\d+)$/.exec(l.text) ? [{ at: l.at, n: Number(l.text.slice(5)) }] : []));
  return { c, lineTimes, ticks };
}

/** kill -9 through the fault plane, then wait until the supervisor has it up again. */
async function killIo(): Promise<{ at: number; upAt: number }> {
  const before = svc('io-backend')!;
  expect(before.state).toBe('up');
  const at = Date.now();
  expect(await ok(['fault', 'kill', 'io-backend'])).toMatch(/io-backend/);
  await waitFor(
    () => `io-backend restarted (stderr: ${upErr})`,
    () => {
      const s = svc('io-backend');
      return s && s.state === 'up' && s.pid !== before.pid ? s : undefined;
    },
    30_000,
  );
  return { at, upAt: Date.now() };
}

beforeAll(async () => {
  up = spawnCli(['up', '--any-ports'], { env });
  up.stderr.on('data', (b: Buffer) => (upErr += b.toString()));
  let partial = '';
  up.stdout.on('data', (b: Buffer) => {
    partial += b.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const text of lines) upLines.push({ at: Date.now(), text });
  });
  await waitFor(
    () => `lab.json with its services (stderr: ${upErr})`,
    () => existsSync(join(dir, 'lab.json')) && svc('dom0') && true,
    60_000,
  );
}, 90_000);

afterAll(async () => {
  if (!up) return;
  await runCli(['down'], { env });
  up.kill('SIGKILL');
});

describe('io-backend killed under running VMs', () => {
  it('kill -9 during 4 KiB virtio-blk writes: the guest stalls and goes on, every request completes; a ticker beside it loses no tick', async () => {
    const fw = FIRMWARE.fwJump;
    if (!existsSync(fw)) throw new Error(`${fw} is missing: run scripts/fetch-firmware.sh`);
    const disk = join(configs.dir, 'disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, 4 * 1024 * 1024);
    // Our kernel's blk_write_4k: 300 writes of 4 KiB through its file store, each waited for
    // by interrupt; a request that never completes hangs it until the watchdog fails the run.
    const kio = configs.vmFile(
      'kio',
      [
        'name: kio',
        'memory: 128M',
        `firmware: ${fw}`,
        `kernel: ${join(REPO_ROOT, 'guests/kernel/kernel.elf')}`,
        'bootargs: run=bench:blk_write_4k iters=300 sync watchdog=120',
        'on_poweroff: destroy',
        'on_crash: destroy',
        'disks:',
        `  - path: ${disk}`,
        '',
      ].join('\n'),
    );
    await ok(['create', kio]);
    await ok(['start', 'kio']);
    await ok(['create', 'examples/ticker.yaml']);
    await ok(['start', 'ticker']);
    const k = console('kio');
    const t = console('ticker');
    try {
      await k.c.waitFor(/bench blk_write_4k: ready\r?\n/, 120_000);
      await waitFor('ten ticks', () => t.ticks().length >= 10 || undefined, 30_000);
      const benchAt = Date.now();
      k.c.type('x');
      // Into the writes (each ~20 ms here), then kill.
      await new Promise((r) => setTimeout(r, 2500));
      const kill = await killIo();
      const result = await k.c.waitFor(/bench blk_write_4k: (\d+ iters, \d+ ns\/op|FAILED.*)\r?\n/, 180_000);
      const resultAt = Date.now();
      expect(result).toMatch(/bench blk_write_4k: 300 iters, \d+ ns\/op/);
      // The bench was running across the kill: it started before and ended after.
      expect(resultAt).toBeGreaterThan(kill.upAt);
      k.c.type('x');
      await k.c.waitFor(/kernel: done/, 60_000);

      // The new io-backend took both VMs over, every device's state restored.
      const lines = ioLines(kill.at);
      const takeOver = lines.filter((l) => /vm taken over from the tree after a restart/.test(l));
      expect(takeOver.length, lines.join('\n')).toBeGreaterThanOrEqual(2);
      expect(
        lines.some((l) => /device state restored/.test(l) && /virtio-blk0/.test(l)),
        lines.join('\n'),
      ).toBe(true);
      expect(
        lines.filter((l) => /not restored|needs reset/i.test(l)),
        lines.join('\n'),
      ).toEqual([]);

      // The ticker stalled for the restart and went on: no tick repeated or out of order.
      await waitFor('ten ticks after the restart', () => t.ticks().filter((x) => x.at > kill.upAt).length >= 10 || undefined, 30_000);
      const ticks = t.ticks();
      const ns = ticks.map((x) => x.n);
      for (let i = 1; i < ns.length; i++) expect(ns[i], `tick ${ns[i]} after ${ns[i - 1]}`).toBeGreaterThan(ns[i - 1]!);
      const lost = ns.slice(1).reduce((n, v, i) => n + (v - ns[i]! - 1), 0);
      const gaps = ticks.slice(1).map((x, i) => x.at - ticks[i]!.at);
      process.stderr.write(
        `io-restart: bench ${((resultAt - benchAt) / 1000).toFixed(1)} s across the kill; io-backend back ${kill.upAt - kill.at} ms after it; ticker's longest gap ${Math.max(...gaps)} ms, ticks lost ${lost}\n`,
      );
      // The guest lost nothing; what the console may lose is the line io-backend had taken
      // from the UART but not yet stored in JetStream when it was killed (README, "Not done
      // yet"): at most one ticker line. One CI run saw exactly that (ticks lost 1).
      expect(lost).toBeLessThanOrEqual(1);
      expect((await ok(['list'])).match(/\nticker +running /)).not.toBeNull();
    } finally {
      k.c.kill();
      t.c.kill();
      await cli(['destroy', 'kio']);
      await cli(['destroy', 'ticker']);
    }
  }, 420_000);

  it('a malformed saved record is refused naming the field and value; the device is reset or left at power-on, io-backend keeps serving', async () => {
    const trng = configs.vmFile(
      'trng',
      ['name: trng', 'memory: 64M', `image: ${join(REPO_ROOT, 'guests/ticker/ticker.elf')}`, 'rng: true', 'on_poweroff: destroy', 'on_crash: destroy', ''].join(
        '\n',
      ),
    );
    await ok(['create', trng]);
    await ok(['start', 'trng']);
    const t = console('trng');
    // dom0 may write anywhere in the tree; a hostile or broken writer is what this plays.
    const s = state();
    const password = readFileSync(join(dirname(s.tlsDir!), 'dom0', 'nats.password'), 'utf8').trim();
    const bus = await Bus.connect({
      url: s.natsUrl.replace('nats://', `nats://dom0:${encodeURIComponent(password)}@`),
      name: 'test-io-restart',
      log: createLogger({ service: 'test', level: 'silent' }),
      connectTimeoutMs: 5000,
    });
    try {
      await waitFor('five ticks', () => t.ticks().length >= 5 || undefined, 30_000);
      const kv = await bus.kv();
      await kv.put(kvKeys.vmDeviceSaved('trng', 'uart0'), JSON.stringify({ v: 1, kind: 'ns16550a', ier: 255, lcr: 3, mcr: 8, dll: 1, dlm: 0, scr: 0, fcr: 0 }));
      await kv.put(kvKeys.vmDeviceSaved('trng', 'virtio-rng0'), '{"v":1,"kind":"virtio-mmio","deviceId":4,"status":"DRIVER_OK"}');
      const kill = await killIo();
      await waitFor('ten ticks after the restart', () => t.ticks().filter((x) => x.at > kill.upAt).length >= 10 || undefined, 30_000);
      const lines = ioLines(kill.at);
      expect(
        lines.some((l) => /device state not restored/.test(l) && /uart0/.test(l) && /saved state: ier=255: has bits outside 0xf/.test(l)),
        lines.join('\n'),
      ).toBe(true);
      expect(
        lines.some((l) => /virtio-rng0/.test(l) && /saved state: status="DRIVER_OK": must be an integer 0\.\.255/.test(l)),
        lines.join('\n'),
      ).toBe(true);
      // It serves on: the VM runs, and a new VM gets its devices.
      expect((await ok(['list'])).match(/\ntrng +running /)).not.toBeNull();
      expect(await ok(['run', 'examples/hello.yaml'])).toBe(HELLO_CONSOLE);
      expect(svc('io-backend')).toMatchObject({ state: 'up' });
    } finally {
      await bus.drain();
      t.c.kill();
      await cli(['destroy', 'trng']);
    }
  }, 180_000);
});
