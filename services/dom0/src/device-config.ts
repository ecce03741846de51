// The paravirtual devices of a VM as people write them in its config (xl's disk= / vif=
// lists, in YAML), validated into what io-backend is told through xenbus: which virtio
// device sits behind which virtio-mmio slot, and its backend parameters.
//
//   disks:                      # virtio-blk, raw images
//     - path: disk.img
//       readonly: true          # optional (default false)
//       serial: sv-disk0        # optional, what VIRTIO_BLK_T_GET_ID answers (≤ 20 bytes)
//       slot: 0                 # optional virtio-mmio slot 0..7 (QEMU's bus=virtio-mmio-bus.0)
//     - other.img               # a path alone is a writable disk
//   nics:                       # virtio-net, each a port on a virtual switch
//     - network: lab0           # optional (default "default")
//       mac: 52:54:00:12:34:56  # optional (default: derived from the VM name and index)
//       tftp: ./tftp-root       # optional: the network's gateway serves this directory
//       bootfile: boot.scr      # optional: DHCP's boot file name
//       slot: 1                 # optional, as for disks
//   rng: true                   # virtio-rng (default false); or rng: { slot: 2 }
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { VIRTIO_MMIO_SLOTS, isVmId } from '@splitvisor/platform';
import { ConfigError } from './config-error.js';

export type VirtioKind = 'virtio-blk' | 'virtio-net' | 'virtio-rng';

/** One virtio device: its xenbus device id, its slot, and the parameters its backend gets. */
export interface VirtioDeviceConfig {
  /** The xenbus device id, e.g. "virtio-blk0". */
  id: string;
  kind: VirtioKind;
  /** virtio-mmio transport index: virtio_mmio@10001000 + slot * 0x1000, PLIC source 1 + slot. */
  slot: number;
  /** Flat strings, as xenstore's backend directories hold them. */
  params: Record<string, string>;
}

export const DEVICE_FIELDS = ['disks', 'nics', 'rng'] as const;

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/**
 * Slots as QEMU's virt machine hands them out: the first virtio device on the command line
 * without a bus= lands in the free transport with the highest address (hw/riscv/virt.c
 * creates the transports in order, and qbus prepends each new bus, so -device takes the
 * last one first). A device with `slot: N` sits in slot N, as `-device ...,bus=virtio-mmio-bus.N`
 * puts it there (bus N is the transport at 0x10001000 + N * 0x1000, PLIC source 1 + N).
 * Devices with a slot are placed first; the others then take the highest free slots in our
 * order of kinds (disks, then nics, then rng), which is the order a test gives QEMU.
 */
function placeDevices(wanted: readonly PendingDevice[], source: string): VirtioDeviceConfig[] {
  const taken = new Map<number, PendingDevice>();
  for (const d of wanted) {
    if (d.slot === undefined) continue;
    const other = taken.get(d.slot);
    if (other) {
      throw new ConfigError(
        source,
        `${d.field}.slot`,
        `slot ${d.slot} is already ${other.field}'s (${other.id}); ${d.id} needs another (0..${VIRTIO_MMIO_SLOTS - 1})`,
      );
    }
    taken.set(d.slot, d);
  }
  let next = VIRTIO_MMIO_SLOTS - 1;
  return wanted.map((d) => {
    let slot = d.slot;
    if (slot === undefined) {
      while (taken.has(next)) next--;
      // At most VIRTIO_MMIO_SLOTS devices, each slot once: a free one is left.
      slot = next;
      taken.set(slot, d);
    }
    return { id: d.id, kind: d.kind, slot, params: { ...d.params, slot: String(slot) } };
  });
}

interface PendingDevice {
  id: string;
  kind: VirtioKind;
  /** Where the config put it (e.g. "disks[0]"), for messages. */
  field: string;
  slot: number | undefined;
  params: Record<string, string>;
}

/** `slot:` of one device: a whole number 0..7, or absent. */
function parseSlot(v: unknown, field: string, source: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= VIRTIO_MMIO_SLOTS) {
    throw new ConfigError(
      source,
      `${field}.slot`,
      `${JSON.stringify(v)} is not a virtio-mmio slot: expected a whole number 0..${VIRTIO_MMIO_SLOTS - 1} (slot N is QEMU's bus=virtio-mmio-bus.N)`,
    );
  }
  return v;
}

/** The devices the config asks for, validated; relative paths resolve against `baseDir`. */
export function parseDevices(o: Record<string, unknown>, baseDir: string, source: string, vmName: string): VirtioDeviceConfig[] {
  const out: PendingDevice[] = [];
  const add = (kind: VirtioKind, n: number, params: Record<string, string>, field: string, slot: unknown) => {
    if (out.length >= VIRTIO_MMIO_SLOTS) {
      throw new ConfigError(source, field, `the virt machine has ${VIRTIO_MMIO_SLOTS} virtio-mmio slots; this would be device ${out.length + 1}`);
    }
    out.push({ id: `${kind}${n}`, kind, field, slot: parseSlot(slot, field, source), params });
  };
  const path = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(source, field, `expected a file path, got ${JSON.stringify(v)}`);
    return isAbsolute(v) ? v : resolve(baseDir, v);
  };
  const list = (field: string): unknown[] => {
    const v = o[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new ConfigError(source, field, `expected a list, got ${JSON.stringify(v)}`);
    return v;
  };
  const mapping = (v: unknown, field: string, known: readonly string[]): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(source, field, `expected a mapping, got ${JSON.stringify(v)}`);
    for (const k of Object.keys(v)) {
      if (!known.includes(k)) throw new ConfigError(source, `${field}.${k}`, `unknown field (known: ${known.join(', ')})`);
    }
    return v as Record<string, unknown>;
  };

  list('disks').forEach((d, i) => {
    const field = `disks[${i}]`;
    const m = typeof d === 'string' ? { path: d } : mapping(d, field, ['path', 'readonly', 'serial', 'slot']);
    if (m['path'] === undefined) throw new ConfigError(source, `${field}.path`, 'is required (a raw disk image)');
    const params: Record<string, string> = { path: path(m['path'], `${field}.path`), mode: 'w' };
    const ro = m['readonly'];
    if (ro !== undefined) {
      if (typeof ro !== 'boolean') throw new ConfigError(source, `${field}.readonly`, `expected true or false, got ${JSON.stringify(ro)}`);
      if (ro) params['mode'] = 'r';
    }
    const serial = m['serial'];
    if (serial !== undefined) {
      if (typeof serial !== 'string' || !/^[\x20-\x7e]{1,20}$/.test(serial)) {
        throw new ConfigError(
          source,
          `${field}.serial`,
          `${JSON.stringify(serial)} must be 1-20 printable ASCII characters (virtio-blk's GET_ID answers 20 bytes)`,
        );
      }
      params['serial'] = serial;
    }
    add('virtio-blk', i, params, field, m['slot']);
  });

  list('nics').forEach((n, i) => {
    const field = `nics[${i}]`;
    const m = mapping(n ?? {}, field, ['network', 'mac', 'tftp', 'bootfile', 'slot']);
    const network = m['network'] ?? 'default';
    if (typeof network !== 'string' || !isVmId(network)) {
      throw new ConfigError(
        source,
        `${field}.network`,
        `${JSON.stringify(network)} must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit`,
      );
    }
    const params: Record<string, string> = { network, mac: defaultMac(vmName, i) };
    const mac = m['mac'];
    if (mac !== undefined) {
      if (typeof mac !== 'string' || !MAC.test(mac))
        throw new ConfigError(source, `${field}.mac`, `${JSON.stringify(mac)} is not a MAC address like 52:54:00:12:34:56`);
      const first = parseInt(mac.slice(0, 2), 16);
      if (first & 1) throw new ConfigError(source, `${field}.mac`, `${mac} is a multicast address; a NIC needs a unicast one (first byte even)`);
      if (/^(00:){5}00$/.test(mac)) throw new ConfigError(source, `${field}.mac`, '00:00:00:00:00:00 is not a usable address');
      params['mac'] = mac.toLowerCase();
    }
    if (m['tftp'] !== undefined) params['tftp'] = path(m['tftp'], `${field}.tftp`);
    const bootfile = m['bootfile'];
    if (bootfile !== undefined) {
      if (typeof bootfile !== 'string' || bootfile === '' || bootfile.length > 127 || bootfile.includes('\0')) {
        throw new ConfigError(source, `${field}.bootfile`, `${JSON.stringify(bootfile)} must be a file name of 1-127 characters (DHCP's file field)`);
      }
      params['bootfile'] = bootfile;
    }
    add('virtio-net', i, params, field, m['slot']);
  });

  const rng = o['rng'];
  if (rng !== undefined && rng !== false) {
    if (rng === true) add('virtio-rng', 0, {}, 'rng', undefined);
    else if (rng !== null && typeof rng === 'object' && !Array.isArray(rng)) add('virtio-rng', 0, {}, 'rng', mapping(rng, 'rng', ['slot'])['slot']);
    else throw new ConfigError(source, 'rng', `expected true, false or a mapping like { slot: 0 }, got ${JSON.stringify(rng)}`);
  }

  const placed = placeDevices(out, source);
  const macs = new Map<string, string>();
  for (const d of placed) {
    const mac = d.params['mac'];
    if (mac === undefined) continue;
    const other = macs.get(mac);
    if (other) throw new ConfigError(source, 'nics', `${d.id} and ${other} both have MAC ${mac}`);
    macs.set(mac, d.id);
  }
  return placed;
}

/** A stable, locally administered unicast MAC under QEMU's 52:54:00 prefix. */
export function defaultMac(vmName: string, index: number): string {
  const h = createHash('sha256').update(`${vmName}/nic${index}`).digest();
  return ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
