// The lab on Docker Swarm for real (issue 16): `npm run lab:stack` (scripts/lab-stack.sh) as a
// user runs it, on a stack name and a dom0 port of its own: deploy/compose.yaml rendered into
// a stack file (services/dom0/src/cli/stack-file.ts), `docker stack deploy` on a one-node
// swarm, every service healthy although swarm starts them all at once (they wait for pki's
// volumes and NATS themselves), hello booted from the host CLI through dom0's host-mode port
// with the certificate from the stack's pki-cli volume. Build, up and hello times are printed
// with the load average beside them.
// Everything is removed afterwards, volumes too, whatever happened; and a swarm this test
// made (CI's engine starts in none) is left again, so the engine is as it was found.
//
// Needs an engine that answers (npm test starts one: scripts/ensure-docker.sh); where none
// can be had the test fails naming it, unless SPLITVISOR_ALLOW_NO_DOCKER=1.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, freePort } from '@splitvisor/testing';
import { HELLO_BANNER } from './guest-expectations.js';
import { engineAnswers, lineLog, load, needEngine } from './compose-project.js';

const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000 });
const swarmState = () => docker(['info', '-f', '{{.Swarm.LocalNodeState}}']).stdout.trim();

const stack = `svstack${process.pid}${Math.random().toString(36).slice(2, 6)}`;
const env: Record<string, string> = { SPLITVISOR_STACK_NAME: stack };
const ns = ['--filter', `label=com.docker.stack.namespace=${stack}`];
/** Whether this test made the node a swarm (then it leaves it again), and whether the engine
 *  had swarm's bridge to the outside before (swarm makes it and leaving does not remove it). */
let swarmMadeHere = false;
let gwbridgeBefore = true;
const hasGwbridge = () => docker(['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$']).stdout.trim() !== '';

afterAll(() => {
  if (!engineAnswers) return;
  rmSync(join(REPO_ROOT, '.lab', `stack-${stack}`), { recursive: true, force: true });
  // The script's own teardown (stack rm, its containers waited for, its volumes removed),
  // then a look that nothing of the stack is left.
  const down = spawnSync('bash', ['scripts/lab-stack.sh', 'down'], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 180_000 });
  const left = {
    down: down.status,
    containers: docker(['ps', '-aq', ...ns]).stdout.trim(),
    volumes: docker(['volume', 'ls', '-q', ...ns]).stdout.trim(),
    services: docker(['service', 'ls', '-q', ...ns]).stdout.trim(),
  };
  let left2 = '';
  if (swarmMadeHere) {
    const leave = docker(['swarm', 'leave', '--force']);
    if (!gwbridgeBefore) docker(['network', 'rm', 'docker_gwbridge']);
    left2 = `${leave.status} ${swarmState()} gwbridge ${hasGwbridge() ? 'there' : 'gone'}`;
  }
  expect(left, `${down.stdout}${down.stderr}`).toEqual({ down: 0, containers: '', volumes: '', services: '' });
  if (swarmMadeHere) expect(left2, 'docker swarm leave --force: the node in no swarm again').toBe(`0 inactive gwbridge ${gwbridgeBefore ? 'there' : 'gone'}`);
}, 240_000);

describe('the lab as a Docker Swarm stack (deploy/compose.yaml rendered, docker stack deploy)', () => {
  it('a stack deployed on a one-node swarm runs hello', async ({ skip }) => {
    needEngine(skip);
    const before = swarmState();
    swarmMadeHere = before === 'inactive';
    gwbridgeBefore = hasGwbridge();
    env['SPLITVISOR_DOM0_PORT'] = String(await freePort());
    // The script as a user runs it (npm run lab:stack), on this stack and its own port.
    const child = spawn('bash', ['scripts/lab-stack.sh'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, SPLITVISOR_LAB_STACK_HOST_BUILT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = lineLog(child);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const text = lines.map((l) => l.text).join('\n');
    expect(code, text).toBe(0);
    expect(text, 'the script says what it did with the swarm').toContain(
      swarmMadeHere ? 'this node was in no swarm: made it a one-node swarm manager' : 'this node is a swarm manager already',
    );

    const boot = lines.find((l) => l.text.includes('booting the demo guest'));
    const hello = lines.find((l) => l.text === HELLO_BANNER.trimEnd());
    expect(hello, `hello's banner in:\n${text}`).toBeDefined();

    // A swarm stack indeed: its services (dnsrr: no IPVS needed), dom0's port in host mode,
    // and pki a one-shot whose task completed.
    const services = docker(['service', 'ls', ...ns, '--format', '{{.Name}}'])
      .stdout.trim()
      .split('\n')
      .sort();
    expect(services).toEqual(['cpu', 'dom0', 'io-backend', 'mmu', 'nats', 'pki'].map((s) => `${stack}_${s}`));
    for (const s of services) expect(docker(['service', 'inspect', '-f', '{{.Spec.EndpointSpec.Mode}}', s]).stdout.trim(), s).toBe('dnsrr');
    expect(
      docker(['service', 'inspect', '-f', '{{range .Spec.EndpointSpec.Ports}}{{.PublishMode}} {{.PublishedPort}}{{end}}', `${stack}_dom0`]).stdout.trim(),
    ).toBe(`host ${env['SPLITVISOR_DOM0_PORT']}`);
    const pki = docker(['service', 'ps', `${stack}_pki`, '--format', '{{.CurrentState}}']).stdout.trim();
    expect(pki).toMatch(/^Complete /);

    const num = (re: RegExp) => re.exec(text)?.[1];
    const rows = [
      `build: ${num(/built in ([\d.]+) s/)} s (load ${num(/built in [\d.]+ s \(load ([\d. ]+)\)/)})`,
      `deploy to healthy: ${num(/healthy in ([\d.]+) s/)} s (load ${num(/healthy in [\d.]+ s \(load ([\d. ]+)\)/)})`,
      `hello line: ${((hello!.at - boot!.at) / 1000).toFixed(1)} s (load ${load()})`,
    ];
    process.stdout.write(`swarm-lab: stack ${stack} (swarm ${before} before)\n${rows.map((r) => `  ${r}`).join('\n')}\n`);
  }, 900_000);
});
