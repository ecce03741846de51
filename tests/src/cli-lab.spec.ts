// `splitvisor up`, `down`, and `run` without a lab: the commands people type first.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { INSECURE_LAB_WARNING } from '@splitvisor/lab';
import { isListening, REPO_ROOT } from '@splitvisor/testing';
import { ECHO_READY, HELLO_CONSOLE } from './guest-expectations.js';
import { runCli, spawnCli, SPLITVISOR } from './cli-runner.js';
import { rpcError, waitFor } from './dom0-helpers.js';

/** Ends a CLI process still running the way a person would (`up` on SIGTERM, `run` on
 *  Ctrl-C: each stops the lab it started), so a failed test leaves no services behind;
 *  SIGKILL only if that does not end it. */
async function endCli(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
}

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

  it('run without a lab starts a secure one: a plaintext call to its dom0 and a NATS connection without a user are refused', async () => {
    const { env } = isolated();
    // The echo guest waits for input, so the VM (and its lab) live while we knock.
    const run = spawnCli(['run', 'examples/echo.yaml'], { env });
    let out = '';
    let err = '';
    run.stdout.on('data', (b: Buffer) => (out += b.toString('latin1')));
    run.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
    try {
      await waitFor(
        () => `the echo guest ready (stderr: ${err})`,
        () => out.includes(ECHO_READY),
        90_000,
      );
      const m = /lab for this VM: dom0 (\S+), nats (\S+), mutual TLS and NATS users \(lab [0-9a-f]+\)/.exec(err);
      expect(m, err).not.toBeNull();
      expect(err).not.toContain('INSECURE');
      const [, dom0, nats] = m!;
      const plain = new RpcClient<Dom0V1.Dom0Client>(protos().dom0.Dom0, dom0!, { credentials: grpc.credentials.createInsecure(), deadlineMs: 3000 });
      try {
        expect((await rpcError(plain.call('ListVms', {}))).code).toBe('UNAVAILABLE');
        expect((await rpcError(plain.call('DestroyVm', { name: 'echo' }))).code).toBe('UNAVAILABLE');
      } finally {
        plain.close();
      }
      await expect(connect({ servers: nats!, timeout: 2000, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
      // The VM went on untouched: it still echoes, and ends as its guest says.
      run.stdin.end('hi\nq');
      expect(await exited).toBe(0);
      expect(out).toBe(`${ECHO_READY}hi\nq\r\nbye\r\n`);
      // Its keys and passwords went with it.
      const labId = /\(lab ([0-9a-f]+)\)/.exec(err)![1]!;
      expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`splitvisor-lab-${labId}-`))).toEqual([]);
    } finally {
      await endCli(run, exited, 'SIGINT');
    }
  }, 120_000);

  it('up --insecure says what it gives up', async () => {
    const { dir, env } = isolated();
    const up = spawnCli(['up', '--insecure', '--quiet', '--any-ports'], { env });
    let err = '';
    up.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const upExit = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));
    try {
      await waitFor(
        () => `lab.json and the lab's announcement (stderr: ${err})`,
        () => existsSync(join(dir, 'lab.json')) && err.includes('Ctrl-C stops it'),
        60_000,
      );
      for (const line of INSECURE_LAB_WARNING.split('\n')) expect(err).toContain(line);
      expect(err).toMatch(/read and write any guest's RAM through mmu DMA/);
      expect(err).not.toMatch(/mutual TLS \(lab/);
      const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as { tlsDir?: string };
      expect(state.tlsDir).toBeUndefined();
      expect((await runCli(['down'], { env })).code).toBe(0);
      expect(await upExit).toBe(0);
    } finally {
      await endCli(up, upExit, 'SIGTERM');
    }
  }, 120_000);

  it('up writes where the lab is, list and run use it, down stops every process', async () => {
    const { dir, env } = isolated();
    const up = spawn(process.execPath, [SPLITVISOR, 'up', '--any-ports'], {
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
      const end = Date.now() + 60_000;
      // The CLI announces the lab before it writes lab.json, but its stderr reaches this
      // process through a pipe, read when the event loop gets to it: wait for both.
      while (!existsSync(join(dir, 'lab.json')) || !err.includes('NATS users per service')) {
        if (Date.now() > end) throw new Error(`lab.json or the lab's announcement never appeared:\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as { pid: number; addresses: Record<string, string>; tlsDir?: string };
      expect(state.pid).toBe(up.pid);
      // Secure by default; lab.json names the CLI's directory, which holds the CLI's material alone.
      expect(err).toMatch(/mutual TLS \(lab [0-9a-f]+\): the CLI's certificate in \S+, each service's in its own directory/);
      expect(err).not.toContain('INSECURE');
      expect(readdirSync(state.tlsDir!).sort()).toEqual(['ca.crt', 'cli.crt', 'cli.key']);
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
      expect(list.stdout).toMatch(
        /^NAME +STATE +MODE +NODE +MEMORY +UPTIME +EXIT +REASON\nhello +stopped +emulate +127\.0\.0\.1:\d+ +64 MiB +[\d.]+s +0 +guest wrote 0x5555/,
      );
      // health checks who answered: lab.json says which service is where.
      const h = await runCli(['health', state.addresses['mmu']!], { env });
      expect(h.stdout, h.stderr).toBe(`${state.addresses['mmu']}: SERVING\n`);
      const wrong = await runCli(['health', state.addresses['mmu']!, '--server', 'dom0'], { env });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/is not dom0: it presented mmu's certificate \(DNS:mmu\.[0-9a-f]+\.splitvisor\)/);
      // Merged logs, one prefix per service.
      for (const svc of ['mmu', 'io-backend', 'cpu', 'dom0']) expect(out).toMatch(new RegExp(`^\\[${svc}\\] +INFO +${svc} serving`, 'm'));

      const down = await runCli(['down'], { env });
      expect(down.code).toBe(0);
      expect(down.stderr).toMatch(/lab \(pid \d+\) stopped/);
      expect(await upExit).toBe(0);
      expect(existsSync(join(dir, 'lab.json'))).toBe(false);
      for (const addr of Object.values(state.addresses)) expect(await isListening(Number(addr.split(':')[1]))).toBe(false);
    } finally {
      await endCli(up, upExit, 'SIGTERM');
    }
  }, 120_000);

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
