// Every NATS subject the system uses, in one place. A VM id is one subject token, so it is
// validated before it ever becomes part of a subject (a '.' or '*' in it would let one VM's
// events land on another's subscribers).
import { parseVmId } from '@splitvisor/platform';
import { checkDeviceId } from './xenbus.js';

/** Who reports a VM's lifecycle: each on its own subject, and NATS lets each service
 *  publish only on its own (libs/lab nats-auth.ts), so the subject, not the body, says who
 *  spoke (issue 11, item 8). */
export const LIFECYCLE_SOURCES = ['cpu', 'io-backend', 'dom0'] as const;
export type LifecycleSource = (typeof LIFECYCLE_SOURCES)[number];

export const subjects = {
  /** Bytes the guest wrote to its console UART (JetStream stream CONSOLE). */
  consoleOut: (vm: string) => `sv.vm.${parseVmId(vm)}.console.out`,
  /** Bytes typed at the console for the guest (core NATS: typing is live). */
  consoleIn: (vm: string) => `sv.vm.${parseVmId(vm)}.console.in`,
  /** Lifecycle events of one VM reported by `source` (JetStream stream LIFECYCLE). */
  lifecycle: (vm: string, source: LifecycleSource) => `sv.vm.${parseVmId(vm)}.lifecycle.${source}`,
  /** Lifecycle events of one VM, every source. */
  vmLifecycle: (vm: string) => `sv.vm.${parseVmId(vm)}.lifecycle.*`,
  /** Interrupt line level changes of one VM's devices (core NATS, level state). */
  irq: (vm: string) => `sv.vm.${parseVmId(vm)}.irq`,
  /** Request/reply: the current level of every line of one VM (IrqQuery -> IrqLevels). */
  irqQuery: (vm: string) => `sv.vm.${parseVmId(vm)}.irq.query`,
  /** Request/reply, io-backend -> the VM's cpu: drop a device's read shadow before io-backend
   *  changes what it shows (ShadowRevoke -> ShadowRevokeAck). */
  shadowRevoke: (vm: string) => `sv.vm.${parseVmId(vm)}.io.shadow.revoke`,
  /** virtio QueueNotify writes of one VM's vCPUs (core NATS, Doorbell): ioeventfd-like,
   *  the vCPU does not wait for them. */
  doorbell: (vm: string) => `sv.vm.${parseVmId(vm)}.doorbell`,
  /** Request/reply, mmu -> a page cache: give back pages of one VM (RecallRequest ->
   *  RecallReply). The holder is one token too, checked as a VM id is. */
  memRecall: (vm: string, holder: string) => `sv.vm.${parseVmId(vm)}.mem.recall.${parseVmId(holder, 'holder')}`,
  /** One virtual network's switch (core NATS): every message is one raw Ethernet frame, and
   *  every port (a virtio-net backend, the gateway) hears all of them and keeps what is
   *  addressed to its MAC, broadcast or multicast. The name is one token, checked as a VM id. */
  netFrames: (network: string) => `sv.net.${parseVmId(network, 'network')}.frames`,
  /** mmu (re)started (MmuStarted): page caches re-register what they hold. */
  mmuStarted: 'sv.mmu.started',
  /** The fault plane (libs/faults): dom0 publishes its whole table of link faults here
   *  (FaultTable) whenever it changes; every service follows it. Only dom0 may publish. */
  faultTable: 'sv.fault.table',
  /** Request/reply: a (re)starting service asks dom0 for the table (FaultTable -> FaultTable). */
  faultSync: 'sv.fault.sync',
  /** Request, many replies: every process says which faults it applies now (FaultsHeld). */
  faultHeld: 'sv.fault.held',
  allConsoleOut: 'sv.vm.*.console.out',
  allConsoleIn: 'sv.vm.*.console.in',
  allLifecycle: 'sv.vm.*.lifecycle.*',
} as const;

/** The VM id inside a subject of the `sv.vm.<id>.…` family. */
export function vmOfSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts[0] === 'sv' && parts[1] === 'vm' ? parts[2] : undefined;
}

/** The VM and the reporting service a lifecycle subject names, or undefined when it is not
 *  one (what a reader trusts, whatever the body says). */
export function lifecycleOfSubject(subject: string): { vm: string; source: LifecycleSource } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts[0] !== 'sv' || parts[1] !== 'vm' || parts[3] !== 'lifecycle') return undefined;
  const source = LIFECYCLE_SOURCES.find((s) => s === parts[4]);
  return source && parts[2] ? { vm: parts[2], source } : undefined;
}

export interface StreamSpec {
  name: string;
  subjects: string[];
  /** Per-subject (per-VM) history kept. */
  maxMsgsPerSubject: number;
  maxAgeSeconds: number;
}

export const streams = {
  console: { name: 'CONSOLE', subjects: [subjects.allConsoleOut], maxMsgsPerSubject: 100_000, maxAgeSeconds: 7 * 24 * 3600 },
  lifecycle: { name: 'LIFECYCLE', subjects: [subjects.allLifecycle], maxMsgsPerSubject: 10_000, maxAgeSeconds: 7 * 24 * 3600 },
} as const satisfies Record<string, StreamSpec>;

/** The xenstore-like tree in JetStream KV. NATS tokens are '.'-separated, so the xenstore
 *  path vm/<id>/config is the key vm.<id>.config, and watching vm.<id>.> sees one VM. */
export const KV_BUCKET = 'splitvisor';
export const kvKeys = {
  vmConfig: (vm: string) => `vm.${parseVmId(vm)}.config`,
  vmState: (vm: string) => `vm.${parseVmId(vm)}.state`,
  /** One end of one device's xenbus handshake (xenbus.ts). */
  vmDevice: (vm: string, dev: string, end: 'frontend' | 'backend') => `vm.${parseVmId(vm)}.device.${checkDeviceId(dev)}.${end}`,
  /** What io-backend saved of one device's state (the virtio-mmio transport's setup, the
   *  UART's registers) so that a restarted io-backend takes the device over (issue 15).
   *  Written by io-backend when the guest changes the setup, never per request. */
  vmDeviceSaved: (vm: string, dev: string) => `vm.${parseVmId(vm)}.device.${checkDeviceId(dev)}.saved`,
  /** Both ends of every device of one VM. */
  vmDevices: (vm: string) => `vm.${parseVmId(vm)}.device.>`,
  /** Every device end of every VM (what a backend watches). */
  allDevices: 'vm.*.device.*.*',
  /** dom0's table of link faults (JSON: next id, specs), so a restarted dom0 has it again. */
  faultTable: 'fault.table',
  allVms: 'vm.>',
} as const;
