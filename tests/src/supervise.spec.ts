// `splitvisor up` supervises its services: one that dies is started again with a backoff,
// the death and the restart are logged and counted, `health`, `list` and `top` show the
// restarts, and only `down` stops the lab.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isListening } from '@splitvisor/testing';
import { HELLO_CONSOLE } from './guest-expectations.js';
import { runCli, spawnCli } from './cli-runner.js';
import { waitFor } from './dom0-helpers.js';

interface Status {
  name: string;
  state: string;
  pid?: number;
  restarts: number;
  lastExit?: { code: number | null; signal: string | null };
}
interface State {
  pid: number;
  addresses: Record<string, string>;
  services?: Status[];
}

describe('splitvisor up supervises', () => {
  it('kill -9 dom0, then io-backend: each comes back, logged and counted; VMs run on; down stops it all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sv-labdir-'));
    const env = { SPLITVISOR_LAB_DIR: dir, SPLITVISOR_DOM0_ADDR: undefined, SPLITVISOR_NATS_URL: undefined };
    const up = spawnCli(['up', '--quiet', '--any-ports'], { env });
    let err = '';
    up.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const upExit = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));
    const state = () => JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as State;
    const svc = (name: string) => state().services?.find((s) => s.name === name);
    const cli = async (args: string[]) => {
      const r = await runCli(args, { env, timeoutMs: 60_000 });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    const killAndWait = async (name: string) => {
      const before = svc(name)!;
      expect(before.state).toBe('up');
      process.kill(before.pid!, 'SIGKILL');
      return waitFor(
        () => `${name} restarted (stderr: ${err})`,
        () => {
          const s = svc(name);
          return s && s.state === 'up' && s.pid !== before.pid ? s : undefined;
        },
        30_000,
      );
    };
    try {
      await waitFor(
        () => `lab.json with its services (stderr: ${err})`,
        () => existsSync(join(dir, 'lab.json')) && (svc('dom0') ?? undefined),
        30_000,
      );
      expect(state().services!.map((s) => [s.name, s.restarts])).toEqual([
        ['mmu', 0],
        ['io-backend', 0],
        ['cpu', 0],
        ['dom0', 0],
      ]);
      await cli(['create', 'examples/idle.yaml']);
      await cli(['start', 'idle']);

      // dom0 first: the VM does not need it, and the restarted dom0 still has it.
      const dom0 = await killAndWait('dom0');
      expect(dom0).toMatchObject({ restarts: 1, lastExit: { code: null, signal: 'SIGKILL' } });
      expect(err).toMatch(/splitvisor: dom0 exited unexpectedly \(signal SIGKILL after [\d.]+s\); restart 1 in 0\.5s\n/);
      expect(err).toMatch(new RegExp(`splitvisor: dom0 restarted \\(restart 1, pid ${dom0.pid}\\)\\n`));
      expect(err).not.toMatch(/stopping the lab/);
      let list = await cli(['list']);
      expect(list).toMatch(/\nidle +running +emulate/);
      expect(list).toMatch(/\nservices restarted: dom0 1x \(last: signal SIGKILL [\d.]+s ago\)\n$/);

      // Then io-backend: idle sleeps in WFI and touches no device, so it runs on; a new VM
      // gets its devices from the new io-backend.
      const io = await killAndWait('io-backend');
      expect(io).toMatchObject({ restarts: 1, lastExit: { signal: 'SIGKILL' } });
      expect(err).toMatch(/splitvisor: io-backend exited unexpectedly \(signal SIGKILL after [\d.]+s\); restart 1 in 0\.5s\n/);
      expect(await cli(['run', 'examples/hello.yaml'])).toBe(HELLO_CONSOLE);
      list = await cli(['list']);
      expect(list).toMatch(/\nidle +running +emulate/);
      expect(list).toMatch(/services restarted: io-backend 1x \(last: signal SIGKILL [\d.]+s ago\), dom0 1x \(last: signal SIGKILL [\d.]+s ago\)\n$/);

      const health = await cli(['health']);
      const rows = health.trim().split('\n');
      expect(rows[0]).toMatch(/^SERVICE +ADDRESS +HEALTH +PID +UP +RESTARTS +LAST EXIT$/);
      expect(rows.slice(1).map((r) => r.split(/ {2,}/).slice(0, 3).join(' '))).toEqual(
        ['mmu', 'io-backend', 'cpu', 'dom0'].map((n) => `${n} ${state().addresses[n]} SERVING`),
      );
      expect(rows.find((r) => r.startsWith('dom0'))).toMatch(/ 1 +signal SIGKILL, [\d.]+s ago$/);
      expect(rows.find((r) => r.startsWith('mmu'))).toMatch(/ 0 +-$/);
      const top = await cli(['top', 'idle', '--once', '--interval', '200']);
      expect(top).toMatch(/\nidle +running /);
      expect(top).toMatch(/\nservices restarted: io-backend 1x .*, dom0 1x /);

      const addresses = Object.values(state().addresses);
      const down = await runCli(['down'], { env });
      expect(down.code).toBe(0);
      expect(await upExit).toBe(0);
      expect(err).toMatch(/stopping the lab \(SIGTERM\)\n/);
      // Stopped by the lab: no service was restarted on the way down.
      expect(err.match(/restarted \(restart/g)).toHaveLength(2);
      expect(existsSync(join(dir, 'lab.json'))).toBe(false);
      for (const addr of addresses) expect(await isListening(Number(addr.split(':')[1]))).toBe(false);
    } finally {
      up.kill('SIGKILL');
    }
  }, 180_000);
});
