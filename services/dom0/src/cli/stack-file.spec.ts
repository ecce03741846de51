// The swarm stack file is rendered from deploy/compose.yaml, not kept beside it: what swarm
// needs different (no build, no depends_on, restart_policy, dnsrr, host-mode ports) is done
// here, and bad input is refused naming the file, the field and the value.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NOT_PUBLISHED_IN_STACK, STACK_VERSION, renderStack, stackFileFor } from './stack-file.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const COMPOSE = join(REPO_ROOT, 'deploy/compose.yaml');
type Svc = Record<string, unknown> & { deploy: { endpoint_mode: string; restart_policy: { condition: string } } };
const render = (text: string) => renderStack(text, 'c.yaml') as { version: string; services: Record<string, Svc>; volumes?: unknown };

describe('the stack file of deploy/compose.yaml', () => {
  const compose = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as { services: Record<string, Record<string, unknown>>; volumes: unknown };
  const text = stackFileFor(COMPOSE);
  const stack = parse(text) as { version: string; services: Record<string, Svc>; volumes: unknown };

  it('has the same services, images, commands, environments, volumes and health checks', () => {
    expect(stack.version).toBe(STACK_VERSION);
    expect(Object.keys(stack.services)).toEqual(Object.keys(compose.services));
    for (const [name, c] of Object.entries(compose.services)) {
      const s = stack.services[name]!;
      for (const k of ['image', 'command', 'environment', 'volumes', 'healthcheck', 'init']) expect(s[k], `${name}.${k}`).toEqual(c[k]);
    }
    expect(stack.volumes).toEqual(compose.volumes);
    // ${VAR:-default} left for docker stack deploy to substitute, as compose does.
    expect(stack.services['dom0']!['image']).toBe('${SPLITVISOR_IMAGE:-splitvisor:dev}');
    expect(stack.services['mmu']!['environment']).toHaveProperty('SPLITVISOR_START_WAIT_S', '120');
  });

  it('drops build, depends_on, restart and every x- key; no YAML aliases left', () => {
    for (const [name, s] of Object.entries(stack.services)) {
      for (const k of ['build', 'depends_on', 'restart']) expect(s, `${name}.${k}`).not.toHaveProperty(k);
      expect(
        Object.keys(s).filter((k) => k.startsWith('x-') || k === '<<'),
        name,
      ).toEqual([]);
    }
    expect(Object.keys(stack).sort()).toEqual(['services', 'version', 'volumes']);
    expect(text).not.toMatch(/^\s*[^#\n]*[&*][a-z-]+\s*$/m);
  });

  it('every service dnsrr; pki restarted until it has exited 0, the others always', () => {
    for (const [name, s] of Object.entries(stack.services)) {
      expect(s.deploy.endpoint_mode, name).toBe('dnsrr');
      expect(s.deploy.restart_policy.condition, name).toBe(name === 'pki' ? 'on-failure' : 'any');
    }
  });

  it("publishes dom0's port in host mode (on every interface) and not NATS monitoring", () => {
    const published = Object.entries(stack.services).flatMap(([n, s]) => ((s['ports'] as unknown[]) ?? []).map((p) => [n, p]));
    expect(published).toEqual([['dom0', { target: 50051, published: '${SPLITVISOR_DOM0_PORT:-50051}', protocol: 'tcp', mode: 'host' }]]);
    expect(Object.keys(NOT_PUBLISHED_IN_STACK)).toEqual(['nats']);
  });

  it('is what the built CLI prints (node services/dom0/dist/cli/stack-file.js)', () => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'services/dom0/dist/cli/stack-file.js'), COMPOSE], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(text);
  });
});

describe('renderStack', () => {
  it('takes ports in any compose form: address or not, a ${VAR}, udp, the long syntax', () => {
    const s = render(
      [
        'services:',
        '  a:',
        '    image: i',
        '    restart: on-failure',
        '    ports: ["8080:80", "0.0.0.0:${P:-53}:53/udp", { target: 9, published: 19, host_ip: 127.0.0.1 }]',
      ].join('\n'),
    );
    expect(s.services['a']!['ports']).toEqual([
      { target: 80, published: 8080, protocol: 'tcp', mode: 'host' },
      { target: 53, published: '${P:-53}', protocol: 'udp', mode: 'host' },
      { target: 9, published: 19, mode: 'host' },
    ]);
    expect(s.services['a']!.deploy.restart_policy).toEqual({ condition: 'on-failure' });
  });

  it('keeps a deploy: block of its own, with dnsrr and the restart policy set', () => {
    const s = render('services:\n  a:\n    image: i\n    deploy: { replicas: 2, endpoint_mode: vip }\n');
    expect(s.services['a']!.deploy).toEqual({ replicas: 2, endpoint_mode: 'dnsrr', restart_policy: { condition: 'any' } });
  });

  it('refuses bad input naming the file, the field and the value', () => {
    const bad: [string, string][] = [
      ['services: [', 'c.yaml: not YAML: '],
      ['- a', 'c.yaml: not a compose file (a mapping with services:)'],
      ['volumes: {}', 'c.yaml: no services (a top-level services: mapping with at least one)'],
      ['services: {}', 'c.yaml: no services'],
      ['services:\n  a: 3', 'c.yaml: services.a: not a mapping'],
      ['services:\n  a: { build: . }', 'c.yaml: services.a.image: missing (swarm does not build'],
      ['services:\n  a: { image: i, restart: sometimes }', 'c.yaml: services.a.restart: "sometimes" is not a restart policy'],
      ['services:\n  a: { image: i, ports: "80:80" }', 'c.yaml: services.a.ports: not a list'],
      ['services:\n  a: { image: i, ports: ["80"] }', 'c.yaml: services.a.ports[0]: "80" is not a port'],
      ['services:\n  a: { image: i, ports: [{ published: 1 }] }', 'c.yaml: services.a.ports[0]: {"published":1} has no target'],
      ['services:\n  a: { image: i, deploy: 1 }', 'c.yaml: services.a.deploy: not a mapping'],
      ['services:\n  a: { image: i }\nbogus: 1', 'c.yaml: top-level bogus: not something a stack file has'],
    ];
    for (const [text, msg] of bad) expect(() => renderStack(text, 'c.yaml'), text).toThrow(msg);
  });

  it('a missing file is named, and the CLI says so and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sv-stack-'));
    const absent = join(dir, 'absent.yaml');
    expect(() => stackFileFor(absent)).toThrow(`cannot read the compose file ${absent}: ENOENT`);
    writeFileSync(join(dir, 'empty.yaml'), '');
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'services/dom0/dist/cli/stack-file.js'), join(dir, 'empty.yaml')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`stack-file: ${join(dir, 'empty.yaml')}: not a compose file (a mapping with services:)\n`);
  });
});
