// Runs the `splitvisor` command as a person would: a real process, stdin piped, stdout and
// stderr captured, killed at a deadline so a hang is a failure and not a stuck suite.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';

export const SPLITVISOR = join(REPO_ROOT, 'services/dom0/bin/splitvisor.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The `splitvisor` command as a child process, its stdio piped; `env` entries set to
 *  undefined are removed from the inherited environment. */
export function spawnCli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): ChildProcessWithoutNullStreams {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return spawn(process.execPath, [SPLITVISOR, ...args], { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  const t0 = Date.now();
  const child = spawnCli(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  if (opts.input !== undefined) child.stdin.write(opts.input);
  child.stdin.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes deliver their last bytes.
      setImmediate(() => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
    }),
  );
}

/** The env that points the CLI at a test lab (and nowhere else). */
export function labEnv(lab: { natsUrl: string; addresses: { dom0: string } }): Record<string, string> {
  return { SPLITVISOR_DOM0_ADDR: lab.addresses.dom0, SPLITVISOR_NATS_URL: lab.natsUrl };
}

/** A fresh temp directory for a spec's VM configs; `vmFile` writes `<name>.yaml` there. */
export function configDir(prefix: string): { dir: string; vmFile: (name: string, body: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    vmFile(name, body) {
      const p = join(dir, `${name}.yaml`);
      writeFileSync(p, body);
      return p;
    },
  };
}
