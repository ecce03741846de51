// NATS users and what each may publish and subscribe, written into nats-server's config
// by the launcher. dom0 may do anything; each data-plane service only what its work needs:
// io-backend publishes console bytes, IRQ lines, its system events and its own end of the
// device handshake, and carries the virtual networks' frames, but not console input, page recalls or dom0's VM state; the cpu
// publishes no console bytes at all (only doorbells, which io-backend hears), and writes nothing in KV; mmu only recalls pages.
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

export const NATS_PERMISSIONS: Record<string, Permissions | 'all'> = {
  dom0: 'all',
  cpu: {
    publish: { allow: ['sv.vm.*.lifecycle', 'sv.vm.*.irq.query', 'sv.vm.*.doorbell', JS_API, INBOX], deny: DESTRUCTIVE },
    subscribe: { allow: ['sv.vm.*.irq', 'sv.vm.*.mem.recall.*', 'sv.mmu.started', INBOX] },
  },
  'io-backend': {
    publish: {
      allow: ['sv.vm.*.console.out', 'sv.vm.*.irq', 'sv.vm.*.lifecycle', '$KV.splitvisor.vm.*.device.*.backend', 'sv.net.*.frames', JS_API, INBOX],
      deny: DESTRUCTIVE,
    },
    subscribe: { allow: ['sv.vm.*.console.in', 'sv.vm.*.irq.query', 'sv.vm.*.doorbell', 'sv.net.*.frames', INBOX] },
  },
  mmu: {
    publish: { allow: ['sv.vm.*.mem.recall.*', 'sv.mmu.started', JS_API, INBOX], deny: DESTRUCTIVE },
    subscribe: { allow: [INBOX] },
  },
};

export interface NatsUsers {
  /** user -> password */
  passwords: Record<string, string>;
}

/** Writes the authorization block for nats-server (`-c file`); returns the passwords. */
export function writeNatsAuthConfig(path: string): NatsUsers {
  const passwords: Record<string, string> = {};
  const users = Object.entries(NATS_PERMISSIONS).map(([user, perms]) => {
    passwords[user] = randomBytes(18).toString('hex');
    const p = perms === 'all' ? { publish: { allow: ['>'] }, subscribe: { allow: ['>'] } } : perms;
    return { user, password: passwords[user], permissions: p };
  });
  // nats-server's config format accepts JSON.
  writeFileSync(path, JSON.stringify({ authorization: { users } }, null, 2) + '\n', { mode: 0o600 });
  return { passwords };
}
