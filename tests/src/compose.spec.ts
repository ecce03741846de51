// deploy/compose.yaml against deploy/services.json: the same deployment contract,
// written once for docker compose and once as data, must say the same thing.
//
// Where this sits among the checks of that contract:
//   - here: compose.yaml <-> services.json <-> DESIGN.md's dependency direction.
//     This file reads only files under deploy/ and imports nothing from services.
//   - the services' own spec (not here): each service's built-in defaults (port, env
//     names) <-> deploy/services.json, read by that spec from the file.
// Together they tie compose to the services without either importing the other.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { requireTool } from './require-tool.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_FILE = join(REPO_ROOT, 'deploy/compose.yaml');
const SERVICES_FILE = join(REPO_ROOT, 'deploy/services.json');

interface ServiceContract {
  readonly main: string;
  readonly port: number;
  readonly env: readonly string[];
  readonly dependsOn: readonly string[];
}

interface ComposeService {
  image?: string;
  restart?: string;
  ports?: string[];
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[] };
  volumes?: (string | { source?: string; target?: string })[];
}

const contract = JSON.parse(readFileSync(SERVICES_FILE, 'utf8')) as Record<string, ServiceContract>;
// merge: true resolves `<<: *anchor` keys, as docker compose does.
const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const names = Object.keys(contract).sort();

/** compose `environment` as a map, whether written as a mapping or as KEY=value lines. */
function envOf(svc: ComposeService): Map<string, string> {
  const env = new Map<string, string>();
  const e = svc.environment ?? {};
  if (Array.isArray(e)) {
    for (const line of e) {
      const i = line.indexOf('=');
      env.set(i < 0 ? line : line.slice(0, i), i < 0 ? '' : line.slice(i + 1));
    }
  } else {
    for (const [k, v] of Object.entries(e)) env.set(k, v === null ? '' : String(v));
  }
  return env;
}

/** compose `command` as argv (string commands split on spaces, enough for ours). */
const argvOf = (c: string | string[] | undefined): string[] => (c === undefined ? [] : Array.isArray(c) ? c : c.trim().split(/\s+/));

/** compose `depends_on` as name -> condition ('service_started' for the short form). */
function dependsOnOf(svc: ComposeService): Record<string, string | undefined> {
  const d = svc.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v?.condition]));
}

/** compose `volumes` as [source, target, rw|ro] (short syntax: source:target[:mode]). */
function mountsOf(svc: ComposeService): [string, string, string][] {
  return (svc.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return [v.source ?? '', v.target ?? '', (v as { read_only?: boolean }).read_only ? 'ro' : 'rw'];
    const [src = '', target = '', mode = 'rw'] = v.split(':');
    return [src, target, mode];
  });
}

/** Which service a SPLITVISOR_<X>_ADDR variable points at. */
const ADDR_TARGETS: Record<string, string> = {
  SPLITVISOR_CPU_ADDR: 'cpu',
  SPLITVISOR_MMU_ADDR: 'mmu',
  SPLITVISOR_IO_ADDR: 'io-backend',
};

/** Callees found through NATS, not given by address: cpu nodes put themselves in the node
 *  registry (libs/bus node-registry.ts), so `--scale cpu=N` works; SPLITVISOR_CPU_ADDR is an
 *  optional static list that compose does not set. */
const FOUND_ON_NATS = new Set(['cpu']);

describe('deploy/services.json', () => {
  it('names the four services, each an existing workspace, on distinct ports', () => {
    expect(names).toEqual(['cpu', 'dom0', 'io-backend', 'mmu']);
    for (const n of names) {
      expect(existsSync(join(REPO_ROOT, 'services', n, 'package.json')), `services/${n}/package.json`).toBe(true);
      expect(contract[n]!.main).toBe(`services/${n}/dist/main.js`);
    }
    expect(Object.fromEntries(names.map((n) => [n, contract[n]!.port]))).toEqual({
      dom0: 50051,
      cpu: 50052,
      mmu: 50053,
      'io-backend': 50054,
    });
  });

  it('every service takes the common env; callers take the address of each callee', () => {
    for (const n of names) {
      const c = contract[n]!;
      expect(c.env, n).toEqual(expect.arrayContaining(['SPLITVISOR_NATS_URL', 'SPLITVISOR_LISTEN', 'SPLITVISOR_LOG_LEVEL']));
      expect(new Set(c.env).size, `${n}: env listed twice`).toBe(c.env.length);
      for (const dep of c.dependsOn) {
        if (FOUND_ON_NATS.has(dep)) continue;
        const addrVar = Object.keys(ADDR_TARGETS).find((k) => ADDR_TARGETS[k] === dep);
        if (addrVar) expect(c.env, `${n} depends on ${dep}, so needs ${addrVar}`).toContain(addrVar);
      }
    }
    expect(contract['mmu']!.env).toContain('SPLITVISOR_MMU_POOL_MIB');
    // No fixed list of cpu nodes: one per replica, whatever `--scale cpu=N` says.
    expect(contract['dom0']!.env).not.toContain('SPLITVISOR_CPU_ADDR');
  });

  it('dependencies point the one way DESIGN.md gives (and so have no cycle)', () => {
    const deps = Object.fromEntries(names.map((n) => [n, [...contract[n]!.dependsOn].sort()]));
    expect(deps).toEqual({
      dom0: ['cpu', 'io-backend', 'mmu', 'nats'],
      cpu: ['io-backend', 'mmu', 'nats'],
      'io-backend': ['mmu', 'nats'],
      mmu: ['nats'],
    });
  });
});

describe('deploy/compose.yaml agrees with deploy/services.json', () => {
  it('has exactly pki, nats and the services of services.json', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...names, 'nats', 'pki'].sort());
  });

  it('nats: its users from pki-nats (-c), JetStream with a store, monitoring port, and a health check', () => {
    const nats = compose.services['nats']!;
    expect(nats.image).toMatch(/^nats:2\.10(-alpine)?$/);
    expect(argvOf(nats.command)).toEqual(['-c', '/etc/nats/lab/nats.conf', '-js', '-sd', '/data', '-m', '8222']);
    expect(mountsOf(nats)).toEqual([
      ['nats-data', '/data', 'rw'],
      ['pki-nats', '/etc/nats/lab', 'ro'],
    ]);
    expect(dependsOnOf(nats)).toEqual({ pki: 'service_completed_successfully' });
    expect(argvOf(nats.healthcheck?.test).join(' ')).toContain('http://localhost:8222/healthz');
  });

  it('pki: the one-shot issuer, from the same image, writing one volume per identity and nats', () => {
    const pki = compose.services['pki']!;
    expect(pki.image).toBe(compose.services['dom0']!.image);
    expect(argvOf(pki.command)).toEqual(['node', 'services/dom0/dist/cli/compose-pki.js']);
    expect(pki.restart).toBe('no');
    expect(pki.ports ?? []).toEqual([]);
    const ids = [...names, 'cli', 'nats'];
    expect(mountsOf(pki).sort()).toEqual(ids.map((id): [string, string, string] => [`pki-${id}`, `/pki/${id}`, 'rw']).sort());
    for (const id of ids) expect(compose.volumes, id).toHaveProperty(`pki-${id}`);
  });

  it('only dom0 (and NATS monitoring) is published, on 127.0.0.1', () => {
    const published = Object.entries(compose.services).flatMap(([n, svc]) => (svc.ports ?? []).map((p) => `${n} ${p}`));
    expect(published).toEqual(['nats 127.0.0.1:${SPLITVISOR_NATS_MONITOR_PORT:-8222}:8222', 'dom0 127.0.0.1:${SPLITVISOR_DOM0_PORT:-50051}:50051']);
  });

  it('the four services run from one image, built by deploy/Dockerfile', () => {
    const images = new Set(names.map((n) => compose.services[n]!.image));
    expect(images.size).toBe(1);
    for (const n of names) {
      expect(compose.services[n]!.build, n).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
    }
  });

  for (const n of names) {
    describe(n, () => {
      const c = contract[n]!;
      const svc = () => compose.services[n]!;

      it(`command runs ${c.main}`, () => {
        expect(argvOf(svc().command)).toEqual(['node', c.main]);
      });

      it(`listens on port ${c.port}`, () => {
        const listen = envOf(svc()).get('SPLITVISOR_LISTEN');
        expect(listen, 'SPLITVISOR_LISTEN').toBe(`0.0.0.0:${c.port}`);
      });

      it('sets every env var services.json lists, and no other SPLITVISOR_ var', () => {
        const env = envOf(svc());
        for (const v of c.env) expect(env.get(v) ?? '', `${n}: ${v}`).not.toBe('');
        const extra = [...env.keys()].filter((k) => k.startsWith('SPLITVISOR_') && !c.env.includes(k));
        expect(extra, `${n}: set in compose.yaml but not in services.json`).toEqual([]);
      });

      it('points its addresses at the right service and port, and at nats as its own NATS user', () => {
        const env = envOf(svc());
        expect(env.get('SPLITVISOR_NATS_URL')).toBe(`nats://${n}@nats:4222`);
        for (const [v, target] of Object.entries(ADDR_TARGETS)) {
          if (!env.has(v)) continue;
          expect(env.get(v), `${n}: ${v}`).toBe(`${target}:${contract[target]!.port}`);
          expect(c.dependsOn, `${n} calls ${target}, so must depend on it`).toContain(target);
        }
      });

      it('depends_on equals dependsOn, each service_healthy, and pki completed', () => {
        const expected = Object.fromEntries(c.dependsOn.map((d) => [d, 'service_healthy']));
        expect(dependsOnOf(svc())).toEqual({ pki: 'service_completed_successfully', ...expected });
      });

      it('mounts only its own identity (pki-' + n + ', read-only) where SPLITVISOR_TLS_DIR says, its NATS password in it', () => {
        const env = envOf(svc());
        const own = mountsOf(svc()).filter(([src]) => src.startsWith('pki-'));
        expect(own).toEqual([[`pki-${n}`, '/tls', 'ro']]);
        expect(env.get('SPLITVISOR_TLS_DIR')).toBe('/tls');
        expect(env.get('SPLITVISOR_NATS_PASSWORD_FILE')).toBe('/tls/nats.password');
      });

      it(`has a health check: the dom0 CLI asking gRPC health on port ${c.port} over mutual TLS, as ${n}`, () => {
        expect(argvOf(svc().healthcheck?.test)).toEqual([
          'CMD',
          'node',
          'services/dom0/dist/cli/main.js',
          'health',
          `127.0.0.1:${c.port}`,
          '--server',
          n,
          '--as',
          n,
        ]);
      });
    });
  }

  it('mounts the images volume at /images in dom0 and io-backend', () => {
    expect(compose.volumes).toHaveProperty('images');
    const mountsImages = (n: string) =>
      (compose.services[n]!.volumes ?? []).some((v) =>
        typeof v === 'string' ? /^images:\/images(:rw)?$/.test(v) : v.source === 'images' && v.target === '/images',
      );
    for (const n of ['dom0', 'io-backend']) expect(mountsImages(n), n).toBe(true);
  });
});

describe('docker-compose accepts deploy/compose.yaml', () => {
  it('docker-compose -f deploy/compose.yaml config -q exits 0', ({ skip }) => {
    requireTool(
      {
        ok: spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).error === undefined,
        why: 'docker-compose is not on PATH (Debian: apt-get install docker-compose)',
        needed: 'deploy/compose.yaml cannot be validated without it',
        allowVar: 'SPLITVISOR_ALLOW_NO_DOCKER_COMPOSE',
      },
      skip,
    );
    // `config` only parses, interpolates and validates; it needs no Docker engine.
    const r = spawnSync('docker-compose', ['-f', 'deploy/compose.yaml', 'config', '-q'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(r.status, `docker-compose config -q: ${r.stdout}${r.stderr}`).toBe(0);
  });
});
