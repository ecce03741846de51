// After a dom0 restart: what dom0 remembers (KV) against what the data plane says it holds
// (cpu GetVmStats on the VM's node, mmu and io-backend GetVmStats). The data plane ran on
// without dom0, so where they disagree it is right, and dom0 records why. `decide` is pure:
// the rules are tested without a network.
import { RpcError } from '@splitvisor/rpc';
import type { DataPlane } from './ports.js';
import type { VmRecord } from './vm-state.js';

/** What one service says of one VM; `unknown` when it could not be asked. */
export interface Holdings {
  cpu: 'running' | 'paused' | 'exited' | 'absent' | 'unknown';
  mmu: 'present' | 'absent' | 'unknown';
  io: 'present' | 'absent' | 'unknown';
}

export type Reconciliation =
  | { kind: 'keep' }
  | { kind: 'adopt'; state: 'running' | 'paused'; why: string }
  | { kind: 'fail'; reason: string }
  | { kind: 'finish-stop'; reason: string }
  | { kind: 'finish-reboot' };

export function decide(r: VmRecord, h: Holdings): Reconciliation {
  const node = r.node ?? 'its cpu node';
  const memoryAndDevices = (): Reconciliation | undefined => {
    if (h.mmu === 'absent') return { kind: 'fail', reason: 'mmu no longer holds its memory (found when dom0 came back)' };
    if (h.io === 'absent') return { kind: 'fail', reason: 'io-backend no longer has its devices (found when dom0 came back)' };
    return undefined;
  };
  switch (r.state) {
    case 'running':
    case 'paused': {
      if (h.cpu === 'absent') return { kind: 'fail', reason: `cpu node ${node} no longer runs it (found when dom0 came back)` };
      if (h.cpu === 'exited') return { kind: 'fail', reason: `its vCPU on ${node} exited while dom0 was away, with no event saying why` };
      const lost = memoryAndDevices();
      if (lost) return lost;
      if (h.cpu === 'paused' && r.state === 'running') return { kind: 'adopt', state: 'paused', why: `cpu node ${node} has it paused` };
      if (h.cpu === 'running' && r.state === 'paused') return { kind: 'adopt', state: 'running', why: `cpu node ${node} has it running` };
      return { kind: 'keep' };
    }
    case 'created':
    case 'preserved':
      return memoryAndDevices() ?? { kind: 'keep' };
    case 'stopping':
      return { kind: 'finish-stop', reason: r.reason || 'stopped while dom0 was away' };
    case 'rebooting':
      return { kind: 'finish-reboot' };
    default:
      return { kind: 'keep' };
  }
}

const answer = <T extends string>(p: Promise<unknown>, present: T): Promise<T | 'absent' | 'unknown'> =>
  p.then(
    () => present,
    (e: unknown) => (e instanceof RpcError && e.code === 'NOT_FOUND' ? 'absent' : 'unknown'),
  );

/** Asks the three services what they hold of the VM. */
export async function probe(plane: DataPlane, r: VmRecord): Promise<Holdings> {
  const cpu: Promise<Holdings['cpu']> = Promise.resolve()
    .then(() => plane.cpus.node(r.node).stats(r.name))
    .then(
      (s): Holdings['cpu'] => (!s.running ? 'exited' : s.paused ? 'paused' : 'running'),
      (e: unknown): Holdings['cpu'] => (e instanceof RpcError && e.code === 'NOT_FOUND' ? 'absent' : 'unknown'),
    );
  const [c, m, i] = await Promise.all([cpu, answer(plane.memory.stats(r.name), 'present'), answer(plane.devices.stats(r.name), 'present')]);
  return { cpu: c, mmu: m, io: i };
}

/**
 * After dom0 saw cpu node `node` go away (its health stream ended or stopped saying
 * SERVING): what became of a VM running there, from what the node answers now. The node
 * that still has it (or is telling dom0 itself, by an exit report) keeps it; one that no
 * longer has it, or does not answer, lost it: the reason names the node and how it died,
 * and on_crash applies. Undefined: nothing to do.
 */
export function afterNodeLoss(r: Pick<VmRecord, 'state' | 'node'>, node: string, cpu: Holdings['cpu'], why: string): string | undefined {
  if ((r.state !== 'running' && r.state !== 'paused') || (r.node ?? node) !== node) return undefined;
  if (cpu === 'absent') return `cpu node ${node} died (${why}) and came back without it`;
  if (cpu === 'unknown') return `cpu node ${node} died (${why}) and does not answer`;
  return undefined;
}
