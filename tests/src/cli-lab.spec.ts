// `splitvisor up`, `down`, and `run` without a lab: the commands people type first.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isListening, REPO_ROOT } from '@splitvisor/testing';
import { HELLO_CONSOLE } from './guest-expectations.js';
import { runCli, SPLITVISOR } from './cli-runner.js';

/** An environment with no lab in sight: its own state dir, no address overrides. */
function isolated() {
  const dir = mkdtempSync(join(tmpdir(), 'sv-labdir-'));
  return { dir, env: { SPLITVISOR_LAB_DIR: dir, SPLITVISOR_DOM0_ADDR: undefined, SPLITVISOR_NATS_URL: undefined } };
}

describe('splitvisor CLI and the lab', () => {
  it("run without a lab starts one for the VM's lifetime, says so, and leaves nothing behind", async () => {
    const { dir, env } = isolated();
    const r = await runCli(['run', 'examples/hello.yaml'], { env, timeoutMs: 60_000 });
    expect(r.stderr).toContain("no lab is running: starting one for this VM's lifetime");
    expect(r.stdout).toBe(HELLO_CONSOLE);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'lab.json'))).toBe(false);
  });

  it('up writes where the lab is, list and run use it, down stops every process', async () => {
    const { dir, env } = isolated();
    const up = spawn(process.execPath, [SPLITVISOR, 'up'], {
      cwd: REPO_ROOT,
      env: { ...process.env, SPLITVISOR_LAB_DIR: dir, SPLITVISOR_DOM0_ADDR: '', SPLITVISOR_NATS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    up.stdout.on('data', (b: Buffer) => (out += b.toString()));
    up.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const upExit = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));
    try {
      const end = Date.now() + 30_000;
      while (!existsSync(join(dir, 'lab.json'))) {
        if (Date.now() > end) throw new Error(`lab.json never appeared:\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as { pid: number; addresses: Record<string, string> };
      expect(state.pid).toBe(up.pid);
      expect(err).toMatch(
        /lab up: nats nats:\/\/127\.0\.0\.1:\d+, mmu 127\.0\.0\.1:\d+, io-backend 127\.0\.0\.1:\d+, cpu 127\.0\.0\.1:\d+, dom0 127\.0\.0\.1:\d+/,
      );

      const second = await runCli(['up'], { env });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/a lab is already running \(pid \d+/);

      const run = await runCli(['run', 'examples/hello.yaml'], { env });
      expect(run.stdout).toBe(HELLO_CONSOLE);
      expect(run.stderr).not.toMatch(/starting one/);
      const list = await runCli(['list'], { env });
      expect(list.stdout).toMatch(/^NAME +STATE +NODE +MEMORY +UPTIME +EXIT +REASON\nhello +stopped +127\.0\.0\.1:\d+ +64 MiB +[\d.]+s +0 +guest wrote 0x5555/);
      // Merged logs, one prefix per service.
      for (const svc of ['mmu', 'io-backend', 'cpu', 'dom0']) expect(out).toMatch(new RegExp(`^\\[${svc}\\] +INFO +${svc} serving`, 'm'));

      const down = await runCli(['down'], { env });
      expect(down.code).toBe(0);
      expect(down.stderr).toMatch(/lab \(pid \d+\) stopped/);
      expect(await upExit).toBe(0);
      expect(existsSync(join(dir, 'lab.json'))).toBe(false);
      for (const addr of Object.values(state.addresses)) expect(await isListening(Number(addr.split(':')[1]))).toBe(false);
    } finally {
      up.kill('SIGKILL');
    }
  });

  it('down with no lab says so; list with no lab says how to start one', async () => {
    const { env } = isolated();
    const down = await runCli(['down'], { env });
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(/no lab is running/);
    const list = await runCli(['list'], { env });
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/no lab is running: start one with `splitvisor up`/);
  });

  it('refuses an unknown command or a missing argument with usage and exit 2', async () => {
    const r = await runCli(['frobnicate'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"\nusage: splitvisor <command>/);
    const r2 = await runCli(['run'], {});
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/run: missing <vm.yaml>/);
  });
});
