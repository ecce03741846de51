#!/usr/bin/env node
// The Docker Swarm stack file, rendered from deploy/compose.yaml: one source of truth for
// both ways of running the lab. `docker stack deploy` reads compose files with the v3 schema
// and runs them on swarm's machinery, which differs from docker compose's in ways this file
// takes care of (each change below says why):
//
//   node services/dom0/dist/cli/stack-file.js [deploy/compose.yaml] | docker stack deploy -c - NAME
//
// ${VAR:-default} references are left as they are: `docker stack deploy` substitutes them
// from its own environment, as docker compose does (SPLITVISOR_DOM0_PORT, SPLITVISOR_IMAGE).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

/** The v3 schema version the stack loader is given: 3.8 has every key kept here (init,
 *  healthcheck start_period, long port syntax). */
export const STACK_VERSION = '3.8';

/** Ports compose publishes that the stack does not, and why. Swarm's host-mode ports bind
 *  every interface of the node (the v3 long syntax has no host address), and NATS's
 *  monitoring port has no authentication (connections and subjects, no passwords): on
 *  127.0.0.1 in compose it is harmless, on every interface it is not. `docker exec` into the
 *  nats container (wget -qO- localhost:8222/varz) still reaches it. */
export const NOT_PUBLISHED_IN_STACK: Record<string, string> = {
  nats: 'monitoring (no authentication) would be on every interface of the node',
};

export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackFileError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** compose `restart` -> swarm's restart_policy condition. */
function restartCondition(where: string, restart: unknown): 'any' | 'on-failure' {
  switch (restart) {
    case undefined:
    case 'always':
    case 'unless-stopped':
      // Swarm has no "unless stopped": a task is stopped by scaling or removing the service,
      // never by hand, so `any` is the same thing here.
      return 'any';
    case 'on-failure':
      return 'on-failure';
    case 'no':
      // A one-shot (pki): under `any` swarm would run it again after every exit 0, forever;
      // under `none` a failed run would stay failed and every service would wait for its
      // volumes in vain. on-failure runs it until it has exited 0, once.
      return 'on-failure';
    default:
      throw new StackFileError(`${where}.restart: "${String(restart)}" is not a restart policy (no, always, unless-stopped, on-failure)`);
  }
}

/** One compose port (short "[host_ip:]published:target[/proto]" or long) as swarm's long
 *  syntax in host mode. */
function hostModePort(where: string, p: unknown): Obj {
  if (isObj(p)) {
    if (p['target'] === undefined) throw new StackFileError(`${where}: ${JSON.stringify(p)} has no target`);
    const { host_ip: _ignored, ...rest } = p;
    return { ...rest, mode: 'host' };
  }
  const s = String(p);
  // The published part may be a ${VAR:-default} (which holds a ':'): split off the target
  // from the right and an address from the left.
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\$\{[^}]+\}|\d+):(\d+)(?:\/(tcp|udp))?$/.exec(s);
  if (!m) throw new StackFileError(`${where}: "${s}" is not a port ([host_ip:]published:target[/tcp|udp])`);
  const published = /^\d+$/.test(m[2]!) ? Number(m[2]) : m[2]!;
  return { target: Number(m[3]), published, protocol: m[4] ?? 'tcp', mode: 'host' };
}

/**
 * The stack file for compose.yaml's text (`source` names it in errors): an object ready for
 * stringify. Throws StackFileError naming the file, the field and the value when the input is
 * not a compose file this can render.
 */
export function renderStack(text: string, source: string): Obj {
  let doc: unknown;
  try {
    // merge: true resolves `<<: *anchor` (x-splitvisor, x-health-timing) as compose does;
    // the stack loader would not accept the x- keys' anchors inside services otherwise.
    doc = parse(text, { merge: true });
  } catch (e) {
    throw new StackFileError(`${source}: not YAML: ${(e as Error).message}`);
  }
  if (!isObj(doc)) throw new StackFileError(`${source}: not a compose file (a mapping with services:)`);
  const services = doc['services'];
  if (!isObj(services) || Object.keys(services).length === 0)
    throw new StackFileError(`${source}: no services (a top-level services: mapping with at least one)`);

  const out: Obj = {};
  for (const [name, raw] of Object.entries(services)) {
    const where = `${source}: services.${name}`;
    if (!isObj(raw)) throw new StackFileError(`${where}: not a mapping`);
    if (typeof raw['image'] !== 'string' || raw['image'] === '') {
      // Swarm never builds: every node pulls (or has) the image by name.
      throw new StackFileError(`${where}.image: missing (swarm does not build; the service needs an image name)`);
    }
    const { build: _build, depends_on: _dependsOn, restart, ports, deploy, ...kept } = raw;
    // build: dropped, swarm ignores it (the lab script builds the image first, with compose).
    // depends_on: dropped, swarm starts every service at once whatever it says (and the v3
    // schema refuses the long form with conditions compose needs for its health ordering).
    // The services wait themselves for what they need (SPLITVISOR_START_WAIT_S).
    const svc: Obj = { ...kept };
    if (deploy !== undefined && !isObj(deploy)) throw new StackFileError(`${where}.deploy: not a mapping`);
    svc['deploy'] = {
      ...(deploy as Obj | undefined),
      // dnsrr: the service name resolves to its tasks' addresses. The default (vip) puts a
      // virtual IP in front, served by the kernel's IPVS; on a kernel without it (no
      // /proc/net/ip_vs) the VIP does not answer and nothing reaches NATS or a service.
      endpoint_mode: 'dnsrr',
      // compose's `restart` is ignored by swarm; its restart_policy says the same.
      restart_policy: { condition: restartCondition(where, restart) },
    };
    if (ports !== undefined) {
      if (!Array.isArray(ports)) throw new StackFileError(`${where}.ports: not a list`);
      // Host mode: the port is bound on the node running the task. The ingress routing mesh
      // (the default) needs IPVS too, and swarm refuses it beside dnsrr.
      const published = ports.map((p, i) => hostModePort(`${where}.ports[${i}]`, p));
      if (!(name in NOT_PUBLISHED_IN_STACK) && published.length > 0) svc['ports'] = published;
    }
    out[name] = svc;
  }

  const stack: Obj = { version: STACK_VERSION, services: out };
  // Top-level x- keys are compose's anchors' homes, resolved into the services above; the
  // stack loader refuses keys it does not know. Volumes and networks go through (volumes
  // are per node: a one-node swarm, or the services that share one on one node).
  for (const key of ['volumes', 'networks', 'configs', 'secrets'] as const) {
    if (doc[key] !== undefined) stack[key] = doc[key];
  }
  for (const key of Object.keys(doc)) {
    if (!key.startsWith('x-') && !['services', 'volumes', 'networks', 'configs', 'secrets', 'version', 'name'].includes(key)) {
      throw new StackFileError(`${source}: top-level ${key}: not something a stack file has (services, volumes, networks, configs, secrets, x-*)`);
    }
  }
  return stack;
}

/** The stack file's text for the compose file at `path`. */
export function stackFileFor(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StackFileError(`cannot read the compose file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const header = `# Rendered from ${path} by services/dom0/dist/cli/stack-file.js for docker stack deploy: do not edit.\n`;
  // No aliases in the output: the merged x- blocks are shared objects after parse, and the
  // reader should see each service whole.
  return header + stringify(renderStack(text, path), { aliasDuplicateObjects: false, lineWidth: 0 });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.length > 1 || args[0] === '--help') {
    process.stderr.write('usage: node services/dom0/dist/cli/stack-file.js [compose.yaml]  (default deploy/compose.yaml)\n');
    process.exit(2);
  }
  try {
    process.stdout.write(stackFileFor(args[0] ?? 'deploy/compose.yaml'));
  } catch (e) {
    process.stderr.write(`stack-file: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
