// guests/kernel booted the two ways issue 12 compares: in the lab (`splitvisor run` of a VM
// with Debian's fw_jump as firmware, the kernel, a fresh 4 MiB disk) and on QEMU 7.2
// (`-bios fw_jump.bin -kernel kernel.elf` with the same disk as a modern virtio-mmio blk).
// Both consoles are read the same way (ConsoleProcess); the kernel's output contract is in
// guests/README.md.
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';
import { ConsoleProcess } from './console-process.js';
import { spawnCli } from './cli-runner.js';
import { spawnQemu } from './qemu-process.js';
import { FIRMWARE } from './uboot-console.js';

export const KERNEL_ELF = join(REPO_ROOT, 'guests/kernel/kernel.elf');
export { QEMU } from './qemu-process.js';

/** The kernel's microbenchmarks in its order, as guests/README.md states them: written here
 *  again, not imported from dom0's bench, so the tests check the bench against the contract. */
export const KERNEL_BENCHES = [
  'null_syscall',
  'page_fault',
  'pte_change',
  'context_switch',
  'fork_exit',
  'fork_exec',
  'trap',
  'mmio_read',
  'timer_irq',
  'blk_read_4k',
  'blk_write_4k',
  'blk_flush',
];
/** QEMU virt's default RAM; the lab VM is given the same so the banner is the same. */
const MEMORY = '128M';

/** lab: emulate mode (fw_jump, then the kernel in S-mode); hw: mode: hw (no firmware, the
 *  kernel in VS-mode under the cpu's monitor); trap: mode: trap (no firmware, the kernel in
 *  real U-mode, trap-and-emulate); pv: mode: pv (the same, and the kernel takes its pv-ops:
 *  hypercalls, direct paging); qemu: QEMU 7.2 with fw_jump. */
export type Machine = 'lab' | 'hw' | 'trap' | 'pv' | 'qemu';

/** A fresh, zeroed 4 MiB raw disk (the kernel formats its file store on first use). */
export function freshDisk(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sv-kdisk-')), 'disk.img');
  writeFileSync(path, '');
  truncateSync(path, 4 * 1024 * 1024);
  return path;
}

/** QEMU's arguments: fw_jump, the kernel, the disk as virtio-blk. QEMU 7.2's virtio-mmio
 *  is legacy (version 1) unless told otherwise; the kernel drives the modern transport. */
export function qemuKernelArgs(disk: string, bootargs: string): string[] {
  return [
    '-M',
    'virt',
    '-m',
    MEMORY,
    '-nographic',
    '-bios',
    FIRMWARE.fwJump,
    '-kernel',
    KERNEL_ELF,
    '-global',
    'virtio-mmio.force-legacy=false',
    '-drive',
    `file=${disk},if=none,format=raw,id=d0`,
    '-device',
    'virtio-blk-device,drive=d0',
    '-append',
    bootargs,
  ];
}

/** The lab's VM config for the same machine: in emulate, with fw_jump as firmware; in hw
 *  and trap, the kernel alone (the cpu's monitor is its SBI). */
export function labKernelConfig(
  name: string,
  disk: string,
  bootargs: string,
  mode: 'emulate' | 'hw' | 'trap' | 'pv' = 'emulate',
  /** cpu.engine; absent, the lab's default (translate). */
  engine?: 'interp' | 'translate',
): string {
  return [
    `name: ${name}`,
    `memory: ${MEMORY}`,
    ...(mode === 'emulate' ? [`firmware: ${FIRMWARE.fwJump}`] : [`mode: ${mode}`]),
    `kernel: ${KERNEL_ELF}`,
    `bootargs: ${bootargs}`,
    ...(engine !== undefined ? ['cpu:', `  engine: ${engine}`] : []),
    'disks:',
    `  - path: ${disk}`,
    '',
  ].join('\n');
}

/** Boots the kernel on `machine`; `vmFile` writes a lab config (configDir's). */
export function startKernel(
  machine: Machine,
  name: string,
  bootargs: string,
  opts: { env: Record<string, string>; vmFile: (name: string, body: string) => string; engine?: 'interp' | 'translate' },
): ConsoleProcess {
  const disk = freshDisk();
  if (machine === 'qemu') return new ConsoleProcess(spawnQemu(qemuKernelArgs(disk, bootargs)));
  const file = opts.vmFile(name, labKernelConfig(name, disk, bootargs, machine === 'lab' ? 'emulate' : machine, opts.engine));
  return new ConsoleProcess(spawnCli(['run', file], { env: opts.env }));
}

/** The kernel's own output: from its banner on (OpenSBI's banner differs by machine). */
export function kernelOutput(console: string): string {
  const at = console.indexOf('splitvisor-kernel: ');
  return at < 0 ? '' : console.slice(at);
}

/** What must be equal on both machines: the output with the timings replaced. */
export function normaliseKernelOutput(out: string): string {
  // Which pv-ops the kernel took is the mode's (checked on its own), not behaviour.
  return out.replace(/ \d+ ns\/op$/gm, ' <ns> ns/op').replace(/^(splitvisor-kernel: .*, pv-ops )\w+$/m, '$1<ops>');
}
