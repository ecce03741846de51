// NATS users and what each may publish and subscribe, written into nats-server's config
// by the launcher. dom0 may do anything; each data-plane service only what its work needs:
// io-backend publishes console bytes, IRQ lines, its system events, its own end of the
// device handshake and its devices' saved state, and carries the virtual networks' frames, but not console input, page recalls or dom0's VM state; the cpu
// publishes no console bytes at all (only doorbells, which io-backend hears), and writes nothing in KV
// but its node registry entry (a cpu node's key in the splitvisor-nodes bucket; dom0 watches
// them, and only dom0 and the launcher may make the bucket); mmu only recalls pages.
// The NATS user is per service, not per node: every cpu node may write any cpu.<id> key of the
// registry, and no other key or bucket.
// Each reporter of lifecycle events publishes only on its own subject (sv.vm.*.lifecycle.<it>),
// so dom0 knows who reported from the subject, whatever the body claims.
// JetStream's API ($JS.API.>) is open to all for reading and consuming, but creating,
// changing, deleting or purging streams and their messages is dom0's (and the launcher's,
// which creates them as dom0 before any service starts): a data-plane service must not be
// able to shrink a stream's retention or open a stream that records console input.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

interface Permissions {
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[]; deny?: string[] };
}

const INBOX = '_INBOX.>';
const JS_API = '$JS.API.>';
/** What only dom0 may do to streams, stored history and state. */
export const JETSTREAM_ADMIN = [
  '$JS.API.STREAM.CREATE.>',
  '$JS.API.STREAM.UPDATE.>',
  '$JS.API.STREAM.DELETE.>',
  '$JS.API.STREAM.PURGE.>',
  '$JS.API.STREAM.MSG.DELETE.>',
  '$JS.API.CONSUMER.DELETE.KV_splitvisor.>',
];
const DESTRUCTIVE = JETSTREAM_ADMIN;
/** The fault plane: every service hears dom0's table and the question of who holds what,
 *  and may ask dom0 for the table; only dom0 publishes it (a data-plane service cannot
 *  switch a fault on). */
const FAULT_FOLLOW = ['sv.fault.table', 'sv.fault.held'];
const FAULT_SYNC = 'sv.fault.sync';
/** The node registry's bucket as libs/bus node-registry.ts makes it (the launcher makes it
 *  before any service starts; dom0 brings its TTL to libs/bus's). The launcher cannot import
 *  libs/bus (whose specs use this lib through libs/testing): the discovery spec checks that
 *  the two say the same. */
export const NODE_REGISTRY = { bucket: 'splitvisor-nodes', ttlMs: 6000 } as const;
/** A cpu node's entry in the node registry: put, renewed, deleted. */
const CPU_NODE_ENTRY = `$KV.${NODE_REGISTRY.bucket}.cpu.*`;

export const NATS_PERMISSIONS: Record<string, Permissions | 'all'> = {
  dom0: 'all',
  cpu: {
    publish: { allow: ['sv.vm.*.lifecycle.cpu', 'sv.vm.*.irq.query', 'sv.vm.*.doorbell', CPU_NODE_ENTRY, FAULT_SYNC, JS_API, INBOX], deny: DESTRUCTIVE },
    subscribe: { allow: ['sv.vm.*.irq', 'sv.vm.*.mem.recall.*', 'sv.vm.*.io.shadow.revoke', 'sv.mmu.started', ...FAULT_FOLLOW, INBOX] },
  },
  'io-backend': {
    publish: {
      allow: [
        'sv.vm.*.console.out',
        'sv.vm.*.irq',
        // Read shadow revokes to the VM's cpu (request/reply).
        'sv.vm.*.io.shadow.revoke',
        'sv.vm.*.lifecycle.io-backend',
        '$KV.splitvisor.vm.*.device.*.backend',
        // Its devices' saved state, so that it can take them over after a restart.
        '$KV.splitvisor.vm.*.device.*.saved',
        'sv.net.*.frames',
        FAULT_SYNC,
        JS_API,
        INBOX,
      ],
      deny: DESTRUCTIVE,
    },
    subscribe: { allow: ['sv.vm.*.console.in', 'sv.vm.*.irq.query', 'sv.vm.*.doorbell', 'sv.net.*.frames', ...FAULT_FOLLOW, INBOX] },
  },
  mmu: {
    publish: { allow: ['sv.vm.*.mem.recall.*', 'sv.mmu.started', FAULT_SYNC, JS_API, INBOX], deny: DESTRUCTIVE },
    subscribe: { allow: [...FAULT_FOLLOW, INBOX] },
  },
};

export interface NatsUsers {
  /** user -> password */
  passwords: Record<string, string>;
}

/** A fresh random password for each of `users`. */
export function natsPasswordsFor(users: readonly string[]): Record<string, string> {
  return Object.fromEntries(users.map((u) => [u, randomBytes(18).toString('hex')]));
}

/** Writes the authorization block for nats-server (`-c file`, 0600) with the passwords
 *  given (fresh ones for users not in `given`); returns them all. `extra` goes in the same
 *  file (a cluster node's name and routes). */
export function writeNatsAuthConfig(path: string, given: Record<string, string> = {}, extra: Record<string, unknown> = {}): NatsUsers {
  const passwords: Record<string, string> = {};
  const users = Object.entries(NATS_PERMISSIONS).map(([user, perms]) => {
    passwords[user] = given[user] ?? natsPasswordsFor([user])[user]!;
    const p = perms === 'all' ? { publish: { allow: ['>'] }, subscribe: { allow: ['>'] } } : perms;
    return { user, password: passwords[user], permissions: p };
  });
  // nats-server's config format accepts JSON.
  writeFileSync(path, JSON.stringify({ ...extra, authorization: { users } }, null, 2) + '\n', { mode: 0o600 });
  return { passwords };
}
