#!/usr/bin/env node
// The compose lab's one-shot issuer (deploy/compose.yaml, service `pki`): what `splitvisor up`
// gives a lab (libs/lab: makeLabPki, NATS users from writeNatsAuthConfig), written into one
// volume per identity, mounted at <root>/<identity>, and NATS's config into <root>/nats, so
// each service mounts only its own. Run on every `up`: a complete set is kept (the lab's
// certificates and passwords live as long as its volumes), anything less is issued afresh.
//
// SPLITVISOR_NATS_CLUSTER (deploy/compose.cluster.yaml): NATS as a cluster of those hosts
// (comma-separated, 3 or 5): nats.conf then also holds the cluster's routes and their random
// credentials, one config for every node (each names itself with -n). A kept set whose
// nats.conf was written for another cluster (or none) is issued afresh.
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LAB_IDENTITIES, NATS_PASSWORD_FILE, SERVICE_ORDER, makeLabPki, natsHostsClusterConfig, natsPasswordsFor, writeNatsAuthConfig } from '@splitvisor/lab';

const root = process.env['SPLITVISOR_PKI_ROOT'] || '/pki';
const natsConf = join(root, 'nats', 'nats.conf');
const services = SERVICE_ORDER as readonly string[];
const clusterHosts = (process.env['SPLITVISOR_NATS_CLUSTER'] ?? '')
  .split(',')
  .map((h) => h.trim())
  .filter((h) => h !== '');

/** The cluster nats.conf was written for: its routes' hosts, [] for a single server. */
function clusterOfConf(): string[] | undefined {
  try {
    const conf = JSON.parse(readFileSync(natsConf, 'utf8')) as { cluster?: { routes?: string[] } };
    return (conf.cluster?.routes ?? []).map((r) => new URL(r).hostname);
  } catch {
    return undefined; // unreadable or not ours: issued afresh
  }
}

/** What an identity's volume must hold. */
const filesOf = (id: string) => ['ca.crt', `${id}.crt`, `${id}.key`, ...(services.includes(id) ? [NATS_PASSWORD_FILE] : [])];

function complete(): boolean {
  return (
    existsSync(natsConf) &&
    clusterOfConf()?.join(',') === clusterHosts.join(',') &&
    LAB_IDENTITIES.every((id) => filesOf(id).every((f) => existsSync(join(root, id, f))))
  );
}

/** Empties a mounted volume (the mount point itself stays). */
function clear(dir: string): void {
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
}

function issue(): string {
  for (const dir of [...LAB_IDENTITIES, 'nats']) {
    if (!existsSync(join(root, dir))) throw new Error(`${join(root, dir)}: not mounted (deploy/compose.yaml gives pki one volume per identity and nats)`);
  }
  // The CA key stays in makeLabPki's memory; the private scratch it issues into is removed.
  const work = mkdtempSync(join(tmpdir(), 'splitvisor-pki-'));
  try {
    const pki = makeLabPki(work);
    const passwords = natsPasswordsFor(SERVICE_ORDER);
    for (const id of LAB_IDENTITIES) {
      const to = join(root, id);
      clear(to);
      chmodSync(to, 0o700);
      for (const f of ['ca.crt', `${id}.crt`, `${id}.key`]) {
        copyFileSync(join(pki.dirs[id]!, f), join(to, f));
        chmodSync(join(to, f), f.endsWith('.key') ? 0o600 : 0o644);
      }
      const pw = passwords[id];
      if (pw !== undefined) writeFileSync(join(to, NATS_PASSWORD_FILE), `${pw}\n`, { mode: 0o600 });
    }
    clear(join(root, 'nats'));
    chmodSync(join(root, 'nats'), 0o700);
    // The route credentials: without them anyone on the network could join the cluster.
    const cluster = clusterHosts.length > 0 ? natsHostsClusterConfig(clusterHosts, 'route', randomBytes(18).toString('hex')) : {};
    writeNatsAuthConfig(natsConf, passwords, cluster);
    return pki.labId;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  // Checked before anything is written: a bad list names itself.
  if (clusterHosts.length > 0) natsHostsClusterConfig(clusterHosts, 'route', 'checked');
  if (complete()) {
    process.stdout.write(`pki: the lab's certificates and NATS users are issued already (${root}); kept\n`);
  } else {
    const labId = issue();
    process.stdout.write(
      `pki: lab ${labId}: a CA, certificates for ${LAB_IDENTITIES.join(', ')} (each in its own volume) and NATS users ${services.join(', ')}` +
        (clusterHosts.length > 0 ? `; NATS a cluster of ${clusterHosts.join(', ')}\n` : '\n'),
    );
  }
} catch (e) {
  process.stderr.write(`pki: ${(e as Error).message}\n`);
  process.exit(1);
}
