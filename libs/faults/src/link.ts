// The boundaries a link fault can sit on, by name. A gRPC link is `<from>:<to>`, from the
// service that calls: cpu:io-backend (MMIO exits), cpu:mmu (page fetches, write-backs),
// io-backend:mmu (device DMA), dom0:<any> (the admin APIs). A VM's NATS subjects are
// `<family>:<vm|*>` (irq, doorbell, recall, console, shadow) and a network's frames `net:<network|*>`.
import { FaultError } from './errors.js';

export const SERVICES = ['cpu', 'mmu', 'io-backend', 'dom0'] as const;
export type Service = (typeof SERVICES)[number];

export const RPC_LINKS = ['cpu:io-backend', 'cpu:mmu', 'io-backend:mmu', 'dom0:cpu', 'dom0:mmu', 'dom0:io-backend'] as const;
export type RpcLinkName = (typeof RPC_LINKS)[number];

export const SUBJECT_FAMILIES = ['irq', 'doorbell', 'recall', 'console', 'net', 'shadow'] as const;
export type SubjectFamily = (typeof SUBJECT_FAMILIES)[number];

export type Link =
  | { kind: 'rpc'; name: RpcLinkName; from: Service; to: Service }
  | { kind: 'nats'; name: string; family: SubjectFamily; /** a VM (a network for net), or '*' */ scope: string };

/** What a partition of a gRPC link also cuts on NATS between the same two services, so
 *  that "both ways" holds: mmu's page recalls to the cpu, the cpu's doorbells and
 *  io-backend's IRQ lines and read shadow revokes, dom0's console input to io-backend. */
export const PARTITION_FAMILIES: Record<RpcLinkName, readonly SubjectFamily[]> = {
  'cpu:mmu': ['recall'],
  'cpu:io-backend': ['irq', 'doorbell', 'shadow'],
  'io-backend:mmu': [],
  'dom0:cpu': [],
  'dom0:mmu': [],
  'dom0:io-backend': ['console'],
};

/** Who sends on each family's subjects (where its faults are applied): io-backend raises
 *  IRQ lines and the cpu asks their levels; the cpu rings doorbells; mmu recalls pages;
 *  io-backend publishes console output and dom0 forwards console input; io-backend's
 *  ports and gateways put frames on the switches; io-backend revokes the UART read shadow
 *  (a cut revoke leaves the cpu's grant to run out its lease, 1 s by default, and input
 *  waits the lease and 800 ms for it). */
export const NATS_ORIGINS: Record<SubjectFamily, readonly Service[]> = {
  irq: ['io-backend', 'cpu'],
  doorbell: ['cpu'],
  recall: ['mmu'],
  console: ['io-backend', 'dom0'],
  net: ['io-backend'],
  shadow: ['io-backend'],
};

/** Whether `self` applies faults on `link`: it originates the link's traffic, or a
 *  partition cuts it from the other side too. */
export function concerns(link: Link, partition: boolean, self: string): boolean {
  if (link.kind === 'rpc') return link.from === self || (partition && link.to === self);
  return (NATS_ORIGINS[link.family] as readonly string[]).includes(self);
}

const TOKEN = /^[a-z0-9-]{1,63}$/;

export function parseLink(text: string): Link {
  if ((RPC_LINKS as readonly string[]).includes(text)) {
    const [from, to] = text.split(':') as [Service, Service];
    return { kind: 'rpc', name: text as RpcLinkName, from, to };
  }
  const m = /^([a-z]+):(.+)$/.exec(text);
  const family = m?.[1] as SubjectFamily | undefined;
  if (m && family && (SUBJECT_FAMILIES as readonly string[]).includes(family)) {
    const scope = m[2]!;
    if (scope !== '*' && !TOKEN.test(scope))
      throw new FaultError(`link: "${scope}" in ${text} is not a ${family === 'net' ? 'network' : 'VM'} name (1-63 of a-z 0-9 -) or *`);
    return { kind: 'nats', name: text, family, scope };
  }
  throw new FaultError(
    `link: "${text}" is not a link (gRPC: ${RPC_LINKS.join(', ')}; NATS: ${SUBJECT_FAMILIES.map((f) => `${f}:<${f === 'net' ? 'network' : 'vm'}|*>`).join(', ')})`,
  );
}

/** The family and scope of one of the system's subjects (libs/bus subjects.ts), or undefined
 *  for subjects no link fault reaches (lifecycle, KV, JetStream's API, inboxes). */
export function subjectLink(subject: string): { family: SubjectFamily; scope: string } | undefined {
  const p = subject.split('.');
  if (p[0] !== 'sv' || p.length < 4) return undefined;
  if (p[1] === 'net' && p[3] === 'frames') return { family: 'net', scope: p[2]! };
  if (p[1] !== 'vm') return undefined;
  const scope = p[2]!;
  switch (p[3]) {
    case 'irq':
      return { family: 'irq', scope };
    case 'doorbell':
      return { family: 'doorbell', scope };
    case 'console':
      return { family: 'console', scope };
    case 'mem':
      return p[4] === 'recall' ? { family: 'recall', scope } : undefined;
    case 'io':
      return p[4] === 'shadow' ? { family: 'shadow', scope } : undefined;
    default:
      return undefined;
  }
}
