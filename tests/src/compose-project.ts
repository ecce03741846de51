// A compose lab of a test's own: deploy/compose.yaml (and overlays) under a project name and
// host ports nobody else uses, driven as scripts/lab-compose.sh and a user drive it, and torn
// down with its volumes whatever happened. Shared by compose-lab.spec and compose-cluster.spec.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, freePort } from '@splitvisor/testing';
import { requireTool } from './require-tool.js';

const engine = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 15_000 });
/** Whether a Docker engine answers (npm test starts one: scripts/ensure-docker.sh). */
export const engineAnswers = engine.error === undefined && engine.status === 0;

/** Fails the test naming the missing engine, unless SPLITVISOR_ALLOW_NO_DOCKER=1 (then skips). */
export const needEngine = (skip: (note?: string) => void) =>
  requireTool(
    {
      ok: engineAnswers,
      why: 'no Docker engine answers (`docker info` failed; bash scripts/ensure-docker.sh start installs and starts one, as npm test does)',
      needed: 'the compose lab (or swarm stack) cannot be built and run',
      allowVar: 'SPLITVISOR_ALLOW_NO_DOCKER',
    },
    skip,
  );

/** `docker compose` (v2) when the CLI has it, else Debian's docker-compose 1.29: as the script picks. */
export const composeCmd = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0 ? ['docker', 'compose'] : ['docker-compose'];

export const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
export const inspect = (id: string, format: string) => docker(['inspect', '-f', format, id]).stdout.trim();
export const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Lines a child printed (stdout and stderr), each with when it came. */
export function lineLog(child: ReturnType<typeof spawn>) {
  const lines: { at: number; text: string }[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    let partial = '';
    s.on('data', (b: Buffer) => {
      partial += b.toString('latin1');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        lines.push({ at: Date.now(), text: partial.slice(0, nl).replace(/\r$/, '') });
        partial = partial.slice(nl + 1);
      }
    });
  }
  return lines;
}

export class ComposeProject {
  readonly name = `svtest${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  /** The environment of every compose command and of the script: project and host ports. */
  readonly env: Record<string, string> = { COMPOSE_PROJECT_NAME: this.name };
  /** The host CLI's certificate, copied out by `lab-compose.sh cli-cert` (the documented way). */
  readonly tlsDir = mkdtempSync(join(tmpdir(), 'sv-compose-cli-'));

  /** `overlays`: compose files after deploy/compose.yaml (deploy/compose.cluster.yaml). */
  constructor(
    private readonly overlays: string[] = [],
    private readonly scriptEnv: Record<string, string> = {},
  ) {}

  compose(args: string[], timeout = 120_000) {
    const files = ['deploy/compose.yaml', ...this.overlays].flatMap((f) => ['-f', f]);
    const r = spawnSync(composeCmd[0]!, [...composeCmd.slice(1), ...files, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      encoding: 'utf8',
      timeout,
    });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
  }

  /** The container of a service (its first, with compose's own numbering). */
  container(service: string): string {
    return this.compose(['ps', '-q', service]).out;
  }

  /** `npm run lab:compose` as a user runs it, on this project and two free host ports; resolves
   *  with its exit code and its lines, each timed. */
  async up(): Promise<{ code: number | null; lines: { at: number; text: string }[] }> {
    this.env['SPLITVISOR_DOM0_PORT'] = String(await freePort());
    this.env['SPLITVISOR_NATS_MONITOR_PORT'] = String(await freePort());
    const child = spawn('bash', ['scripts/lab-compose.sh'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env, ...this.scriptEnv, SPLITVISOR_LAB_COMPOSE_HOST_BUILT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = lineLog(child);
    let code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    if (code === 0) {
      // The CLI's certificate where cliEnv() points, as a user would copy it.
      const cert = spawnSync('bash', ['scripts/lab-compose.sh', 'cli-cert', this.tlsDir], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...this.env },
        encoding: 'utf8',
      });
      lines.push({ at: Date.now(), text: `${cert.stdout}${cert.stderr}`.trim() });
      code = cert.status;
    }
    return { code, lines };
  }

  /** The host CLI's environment against this lab; `tls` null: no certificate. */
  cliEnv(tls: string | null = this.tlsDir): Record<string, string | undefined> {
    return {
      SPLITVISOR_DOM0_ADDR: `127.0.0.1:${this.env['SPLITVISOR_DOM0_PORT']}`,
      // dom0 never opens this machine's files in place (as lab-compose.sh).
      SPLITVISOR_UPLOAD: 'always',
      SPLITVISOR_NATS_URL: undefined,
      SPLITVISOR_TLS_DIR: tls ?? undefined,
      SPLITVISOR_LAB_DIR: this.tlsDir, // no developer's lab.json: only what the environment says
    };
  }

  /** Down with volumes, and what is left of the project (nothing, when all went well). */
  down(): { down: number | null; containers: string; volumes: string; out: string } {
    rmSync(this.tlsDir, { recursive: true, force: true });
    // Where lab-compose.sh put the CLI's certificate for this project.
    rmSync(join(REPO_ROOT, '.lab', `compose-${this.name}`), { recursive: true, force: true });
    const down = this.compose(['down', '-v', '--remove-orphans', '-t', '5'], 180_000);
    const left = docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${this.name}`]).stdout.trim();
    const vols = docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${this.name}`]).stdout.trim();
    return { down: down.status, containers: left, volumes: vols, out: down.out };
  }
}
