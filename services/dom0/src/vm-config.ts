// A VM's configuration as people write it (YAML), validated into a typed command. Every
// error names the field, the value and what was expected, as `xl create` would.
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { BUILT_VM_MODES, DEFAULT_VM_MODE, isVmMode, modeRefusal, parseVmId, type VmMode } from '@splitvisor/platform';
import { ConfigError } from './config-error.js';
import { parseCpu, type CpuConfig } from './cpu-config.js';
import { DEVICE_FIELDS, parseDevices, type VirtioDeviceConfig } from './device-config.js';

export { ConfigError };

/**
 * Two ways to boot, as QEMU's `virt` boots:
 * - `image` alone: no firmware; the image is entered directly in M-mode
 *   (`qemu-system-riscv64 -M virt -bios none -kernel <image>`).
 * - `firmware` (at 0x80000000, as `-bios`), optionally with a `kernel` that the firmware
 *   enters in S-mode (at 0x80200000 when raw, as `-kernel` after fw_jump).
 */
export interface VmConfig {
  name: string;
  /** Guest RAM in bytes, at DRAM_BASE. */
  memoryBytes: number;
  /** Absolute path of the guest image (ELF or raw binary), booted with no firmware. */
  image?: string;
  /** Absolute path of the firmware (ELF or raw binary; raw at 0x80000000), QEMU's -bios. */
  firmware?: string;
  /** Absolute path of the payload the firmware starts (ELF, or raw at 0x80200000). */
  kernel?: string;
  /** The kernel command line, /chosen/bootargs in the device tree (QEMU's -append). */
  bootargs?: string;
  /** Absolute path of an initial RAM disk (QEMU's -initrd), loaded where QEMU puts it and
   *  named by /chosen/linux,initrd-start and -end. */
  initrd?: string;
  vcpus: number;
  /** How the guest kernel runs (DESIGN.md "Virtualization modes"); only the modes this
   *  build has (platform BUILT_VM_MODES) pass validation. */
  mode: VmMode;
  /** What the hart has beyond RV64GC and how it runs (cpu-config.ts: `cpu: { h: true, engine: translate }`); absent = the defaults. */
  cpu?: CpuConfig;
  /** What dom0 does when the guest powers off, asks for a reset, or crashes (as xl). */
  onPoweroff: Policy;
  onReboot: Policy;
  onCrash: Policy;
  /** virtio devices, each behind its virtio-mmio slot (device-config.ts); absent = none. */
  devices?: VirtioDeviceConfig[];
}

/**
 * As xl's on_poweroff / on_reboot / on_crash: `destroy` frees everything (the VM ends
 * stopped, or failed after a crash), `restart` reloads the images and runs it again,
 * `preserve` stops the vCPU but keeps memory and devices for inspection until destroyed.
 */
export type Policy = 'destroy' | 'restart' | 'preserve';
export const POLICIES: readonly Policy[] = ['destroy', 'restart', 'preserve'];
/** xl's defaults: a guest's reboot restarts it, a poweroff or a crash ends it. */
export const DEFAULT_POLICIES = { onPoweroff: 'destroy', onReboot: 'restart', onCrash: 'destroy' } as const satisfies Record<string, Policy>;

const MIB = 1024 * 1024;
/** The cpu holds a VM's RAM in one SharedArrayBuffer; 4 GiB is its limit. */
export const MAX_MEMORY = 4096 * MIB;
export const MIN_MEMORY = 1 * MIB;
const FIELDS = ['name', 'memory', 'image', 'vcpus', 'mode', 'cpu'] as const;
/** The fields that choose how the VM boots besides `image` (listed apart in messages). */
const BOOT_FIELDS = ['firmware', 'kernel', 'bootargs', 'initrd'] as const;
const POLICY_FIELDS = { on_poweroff: 'onPoweroff', on_reboot: 'onReboot', on_crash: 'onCrash' } as const;

/** "64M", "64MiB", "1G", "1GiB", or a number of MiB. */
export function parseMemory(value: unknown, source: string): number {
  let bytes: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new ConfigError(source, 'memory', `${value} is not a whole number of MiB`);
    bytes = value * MIB;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+)\s*(M|MiB|MB|G|GiB|GB)\s*$/i.exec(value);
    if (!m) throw new ConfigError(source, 'memory', `"${value}" is not a size like 64M, 64MiB or 1G`);
    bytes = Number(m[1]) * (m[2]!.toUpperCase().startsWith('G') ? 1024 * MIB : MIB);
  } else {
    throw new ConfigError(source, 'memory', `expected a size like 64M, got ${JSON.stringify(value)}`);
  }
  if (bytes < MIN_MEMORY || bytes > MAX_MEMORY) {
    throw new ConfigError(source, 'memory', `${bytes / MIB} MiB is outside ${MIN_MEMORY / MIB} MiB .. ${MAX_MEMORY / MIB} MiB`);
  }
  return bytes;
}

/** Parses and validates a VM config; relative image paths resolve against `baseDir`. */
export function parseVmConfig(text: string, baseDir: string, source = 'vm config'): VmConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
    throw new ConfigError(source, 'yaml', `not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(source, '(top level)', 'expected a mapping with name, memory and image');
  }
  const o = doc as Record<string, unknown>;
  const known: readonly string[] = [...FIELDS, ...BOOT_FIELDS, ...Object.keys(POLICY_FIELDS), ...DEVICE_FIELDS];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new ConfigError(
        source,
        k,
        `unknown field (known: ${FIELDS.join(', ')}) (also: ${BOOT_FIELDS.join(', ')}) (policies: ${Object.keys(POLICY_FIELDS).join(', ')}) (devices: ${DEVICE_FIELDS.join(', ')})`,
      );
    }
  }
  if (o['name'] === undefined) throw new ConfigError(source, 'name', 'is required');
  if (typeof o['name'] !== 'string') throw new ConfigError(source, 'name', `expected a string, got ${JSON.stringify(o['name'])}`);
  let name: string;
  try {
    name = parseVmId(o['name'], 'name');
  } catch (e) {
    throw new ConfigError(source, 'name', (e as Error).message.replace(/^name: /, ''));
  }
  if (o['memory'] === undefined) throw new ConfigError(source, 'memory', 'is required (e.g. memory: 64M)');
  const memoryBytes = parseMemory(o['memory'], source);
  // Before the mode's own checks: a hart with H in a mode that cannot have it is the cpu
  // field's fault, whatever else that mode would say of the config.
  const modeAsked = o['mode'] ?? DEFAULT_VM_MODE;
  const cpu = isVmMode(modeAsked) ? parseCpu(o['cpu'], modeAsked, source) : undefined;
  const path = (field: 'image' | 'firmware' | 'kernel' | 'initrd'): string | undefined => {
    const v = o[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(source, field, `expected a file path, got ${JSON.stringify(v)}`);
    return isAbsolute(v) ? v : resolve(baseDir, v);
  };
  if (o['image'] !== undefined && o['firmware'] !== undefined) {
    throw new ConfigError(
      source,
      'firmware',
      'cannot be combined with image: give image: alone (entered directly, like QEMU -bios none -kernel), or firmware: with an optional kernel:',
    );
  }
  // hw and trap: the hypervisor is the guest's firmware (its SBI); the kernel alone is
  // entered by the monitor (DESIGN.md "Virtualization modes"): in VS-mode in hw, as KVM's
  // guests are; in real U-mode (virtual S) in trap.
  const monitored = o['mode'] === 'hw' || o['mode'] === 'trap' || o['mode'] === 'pv';
  if (monitored) {
    const m = `mode: ${String(o['mode'])}`;
    const where = o['mode'] === 'hw' ? 'in VS-mode' : 'in U-mode as virtual S-mode';
    if (o['firmware'] !== undefined) {
      throw new ConfigError(
        source,
        'firmware',
        `is not used with ${m}: the hypervisor answers the SBI itself; give kernel: alone (an S-mode kernel, entered ${where})`,
      );
    }
    if (o['image'] !== undefined) {
      throw new ConfigError(
        source,
        'image',
        `is entered in M-mode, which ${m} keeps for the hypervisor; give kernel: (an S-mode kernel, entered ${where} at 0x80200000 when raw)`,
      );
    }
    if (o['kernel'] === undefined)
      throw new ConfigError(source, 'kernel', `is required with ${m} (an S-mode kernel: Linux, U-Boot qemu-riscv64_smode, guests/kernel)`);
  } else if (o['kernel'] !== undefined && o['firmware'] === undefined) {
    throw new ConfigError(
      source,
      'kernel',
      'needs firmware: to start it (fw_jump enters it at 0x80200000); to boot an image with no firmware, use image: (or mode: hw or trap, where the hypervisor enters the kernel)',
    );
  }
  if (o['image'] === undefined && o['firmware'] === undefined && !monitored)
    throw new ConfigError(source, 'image', 'is required (a path to an ELF or raw binary)');
  if (o['initrd'] !== undefined && o['kernel'] === undefined && o['image'] === undefined) {
    throw new ConfigError(source, 'initrd', 'needs a kernel: to read it (QEMU: -initrd needs -kernel)');
  }
  const image = path('image');
  const firmware = path('firmware');
  const kernel = path('kernel');
  const initrd = path('initrd');
  const bootargs = o['bootargs'];
  if (bootargs !== undefined) {
    if (typeof bootargs !== 'string') throw new ConfigError(source, 'bootargs', `expected a string, got ${JSON.stringify(bootargs)}`);
    if (bootargs.includes('\0')) throw new ConfigError(source, 'bootargs', 'may not contain a NUL character');
  }
  const vcpus = o['vcpus'] ?? 1;
  if (vcpus !== 1) throw new ConfigError(source, 'vcpus', `${JSON.stringify(vcpus)}: only 1 vCPU per VM is supported so far`);
  const mode = o['mode'] ?? DEFAULT_VM_MODE;
  const refused = modeRefusal(mode, 'mode', BUILT_VM_MODES);
  if (refused) throw new ConfigError(source, 'mode', refused.replace(/^mode: /, ''));
  const policies: Record<'onPoweroff' | 'onReboot' | 'onCrash', Policy> = { ...DEFAULT_POLICIES };
  for (const [field, key] of Object.entries(POLICY_FIELDS) as [keyof typeof POLICY_FIELDS, keyof typeof policies][]) {
    const v = o[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !(POLICIES as readonly string[]).includes(v)) {
      throw new ConfigError(source, field, `${JSON.stringify(v)} is not one of ${POLICIES.join(', ')}`);
    }
    policies[key] = v as Policy;
  }
  const devices = parseDevices(o, baseDir, source, name);
  return {
    name,
    memoryBytes,
    ...(image !== undefined && { image }),
    ...(firmware !== undefined && { firmware }),
    ...(kernel !== undefined && { kernel }),
    ...(bootargs !== undefined && { bootargs }),
    ...(initrd !== undefined && { initrd }),
    vcpus: 1,
    mode: mode as VmMode,
    ...((cpu?.h || cpu?.engine !== undefined) && { cpu }),
    ...policies,
    ...(devices.length > 0 && { devices }),
  };
}
