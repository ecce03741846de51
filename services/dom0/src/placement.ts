// Which cpu node runs a VM: the least loaded one, as a scheduler's first fit would pick
// among equals. Load is the vCPUs of the VMs placed there that hold or may hold one
// (created, running, paused, on their way down); ties go to the earlier node in the list,
// so one node alone behaves as before placement existed.
import { unavailable } from '@splitvisor/rpc';
import { occupiesNode, type VmRecord } from './vm-state.js';

export function nodeLoads(nodes: readonly string[], vms: readonly VmRecord[]): Map<string, number> {
  const load = new Map(nodes.map((n) => [n, 0]));
  for (const v of vms) {
    if (v.node === undefined || !occupiesNode(v.state) || !load.has(v.node)) continue;
    load.set(v.node, load.get(v.node)! + (v.vcpus ?? 1));
  }
  return load;
}

/** The least loaded node not in `exclude`; UNAVAILABLE when there is none. */
export function leastLoaded(nodes: readonly string[], vms: readonly VmRecord[], exclude: ReadonlySet<string> = new Set()): string {
  const load = nodeLoads(nodes, vms);
  let best: string | undefined;
  for (const n of nodes) {
    if (exclude.has(n)) continue;
    if (best === undefined || load.get(n)! < load.get(best)!) best = n;
  }
  if (best === undefined) throw unavailable(`no cpu node can take the vm (nodes: ${nodes.join(', ') || 'none'})`);
  return best;
}
