// Every NATS subject the system uses, in one place. A VM id is one subject token, so it is
// validated before it ever becomes part of a subject (a '.' or '*' in it would let one VM's
// events land on another's subscribers).
import { checkDeviceId } from './xenbus.js';

const VM_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Throws naming the value when `id` cannot be a VM id. */
export function checkVmId(id: string, field = 'vm id'): string {
  if (!VM_ID.test(id)) {
    throw new Error(`${field}: "${id}" must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit`);
  }
  return id;
}

export const subjects = {
  /** Bytes the guest wrote to its console UART (JetStream stream CONSOLE). */
  consoleOut: (vm: string) => `sv.vm.${checkVmId(vm)}.console.out`,
  /** Bytes typed at the console for the guest (core NATS: typing is live). */
  consoleIn: (vm: string) => `sv.vm.${checkVmId(vm)}.console.in`,
  /** Lifecycle events of one VM (JetStream stream LIFECYCLE). */
  lifecycle: (vm: string) => `sv.vm.${checkVmId(vm)}.lifecycle`,
  /** Interrupt line level changes of one VM's devices (core NATS, level state). */
  irq: (vm: string) => `sv.vm.${checkVmId(vm)}.irq`,
  /** Request/reply: the current level of every line of one VM (IrqQuery -> IrqLevels). */
  irqQuery: (vm: string) => `sv.vm.${checkVmId(vm)}.irq.query`,
  /** virtio QueueNotify writes of one VM's vCPUs (core NATS, Doorbell): ioeventfd-like,
   *  the vCPU does not wait for them. */
  doorbell: (vm: string) => `sv.vm.${checkVmId(vm)}.doorbell`,
  /** Request/reply, mmu -> a page cache: give back pages of one VM (RecallRequest ->
   *  RecallReply). The holder is one token too, checked as a VM id is. */
  memRecall: (vm: string, holder: string) => `sv.vm.${checkVmId(vm)}.mem.recall.${checkVmId(holder, 'holder')}`,
  /** One virtual network's switch (core NATS): every message is one raw Ethernet frame, and
   *  every port (a virtio-net backend, the gateway) hears all of them and keeps what is
   *  addressed to its MAC, broadcast or multicast. The name is one token, checked as a VM id. */
  netFrames: (network: string) => `sv.net.${checkVmId(network, 'network')}.frames`,
  /** mmu (re)started (MmuStarted): page caches re-register what they hold. */
  mmuStarted: 'sv.mmu.started',
  allConsoleOut: 'sv.vm.*.console.out',
  allConsoleIn: 'sv.vm.*.console.in',
  allLifecycle: 'sv.vm.*.lifecycle',
} as const;

/** The VM id inside a subject of the `sv.vm.<id>.…` family. */
export function vmOfSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts[0] === 'sv' && parts[1] === 'vm' ? parts[2] : undefined;
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
  vmConfig: (vm: string) => `vm.${checkVmId(vm)}.config`,
  vmState: (vm: string) => `vm.${checkVmId(vm)}.state`,
  /** One end of one device's xenbus handshake (xenbus.ts). */
  vmDevice: (vm: string, dev: string, end: 'frontend' | 'backend') => `vm.${checkVmId(vm)}.device.${checkDeviceId(dev)}.${end}`,
  /** Both ends of every device of one VM. */
  vmDevices: (vm: string) => `vm.${checkVmId(vm)}.device.>`,
  /** Every device end of every VM (what a backend watches). */
  allDevices: 'vm.*.device.*.*',
  allVms: 'vm.>',
} as const;
