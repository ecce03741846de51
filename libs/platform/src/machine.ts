// The QEMU `virt` machine, address for address and IRQ for IRQ (DESIGN.md, "The guest
// machine"; QEMU hw/riscv/virt.c `virt_memmap`). The cpu, io-backend and the device-tree
// builder all read this one table, so software built for `qemu-system-riscv64 -M virt`
// finds its devices where it expects them.

import type { GuestPhysAddr } from './addresses.js';
import { gpa } from './addresses.js';

/** Which service hosts a region: an access from the vCPU either stays local or exits. */
export type RegionHome = 'cpu' | 'io-backend' | 'mmu';

export interface MachineRegion {
  readonly name: string;
  readonly base: GuestPhysAddr;
  readonly size: number;
  /** PLIC source number, where the device raises one. */
  readonly irq?: number;
  readonly home: RegionHome;
  /** The device-tree `compatible` strings QEMU gives the node. */
  readonly compatible?: readonly string[];
}

export const BOOT_ROM: MachineRegion = { name: 'mrom', base: gpa(0x1000), size: 0xf000, home: 'cpu' };
export const SIFIVE_TEST: MachineRegion = {
  name: 'test',
  base: gpa(0x100000),
  size: 0x1000,
  home: 'io-backend',
  compatible: ['sifive,test1', 'sifive,test0', 'syscon'],
};
export const GOLDFISH_RTC: MachineRegion = {
  name: 'rtc',
  base: gpa(0x101000),
  size: 0x1000,
  irq: 11,
  home: 'io-backend',
  compatible: ['google,goldfish-rtc'],
};
export const CLINT: MachineRegion = {
  name: 'clint',
  base: gpa(0x2000000),
  size: 0x10000,
  home: 'cpu',
  compatible: ['sifive,clint0', 'riscv,clint0'],
};
export const PLIC: MachineRegion = {
  name: 'plic',
  base: gpa(0xc000000),
  size: 0x600000,
  home: 'cpu',
  compatible: ['sifive,plic-1.0.0', 'riscv,plic0'],
};
export const UART0: MachineRegion = {
  name: 'serial',
  base: gpa(0x10000000),
  size: 0x100,
  irq: 10,
  home: 'io-backend',
  compatible: ['ns16550a'],
};
export const VIRTIO_MMIO_SLOTS = 8;
export const VIRTIO_MMIO_BASE = gpa(0x10001000);
export const VIRTIO_MMIO_STRIDE = 0x1000;
/** virtio-mmio slot i: base 0x10001000 + i*0x1000, IRQ 1 + i. */
export function virtioMmioSlot(i: number): MachineRegion {
  if (!Number.isInteger(i) || i < 0 || i >= VIRTIO_MMIO_SLOTS) {
    throw new RangeError(`virtio-mmio slot ${i} out of range 0..${VIRTIO_MMIO_SLOTS - 1}`);
  }
  return {
    name: 'virtio_mmio',
    base: gpa(VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE),
    size: VIRTIO_MMIO_STRIDE,
    irq: 1 + i,
    home: 'io-backend',
    compatible: ['virtio,mmio'],
  };
}
export const DRAM_BASE = gpa(0x80000000);
/** Where fw_jump continues in S-mode; where a payload goes after the firmware. */
export const KERNEL_ENTRY = gpa(0x80200000);

/** CLINT register offsets (SiFive CLINT as QEMU models it, 10 MHz timebase). */
export const CLINT_MSIP = 0x0;
export const CLINT_MTIMECMP = 0x4000;
export const CLINT_MTIME = 0xbff8;
export const TIMEBASE_HZ = 10_000_000;

export const PLIC_SOURCES = 96;

/** sifive,test1 finisher codes (QEMU hw/misc/sifive_test.c). */
export const SIFIVE_TEST_FAIL = 0x3333;
export const SIFIVE_TEST_PASS = 0x5555;
export const SIFIVE_TEST_RESET = 0x7777;

/** Every region of the machine except DRAM, ordered by base. */
export const MACHINE_REGIONS: readonly MachineRegion[] = [
  BOOT_ROM,
  SIFIVE_TEST,
  GOLDFISH_RTC,
  CLINT,
  PLIC,
  UART0,
  ...Array.from({ length: VIRTIO_MMIO_SLOTS }, (_, i) => virtioMmioSlot(i)),
];

/**
 * What an access sees in a window of QEMU virt that no model here implements: 'zeros'
 * (reads 0, writes ignored) or 'ones' (reads all ones, writes ignored), so firmware that
 * probes there finds nothing, or 'fault', a hole in the map as it is on QEMU too.
 */
export type UnmodelledAnswer = 'zeros' | 'ones' | 'fault';

export interface UnmodelledWindow {
  readonly name: string;
  readonly base: GuestPhysAddr;
  readonly size: number;
  readonly answer: UnmodelledAnswer;
}

/** QEMU maps nothing at VIRT_DEBUG: an access faults there as well. */
export const VIRT_DEBUG: UnmodelledWindow = { name: 'debug', base: gpa(0x0), size: 0x100, answer: 'fault' };
/** PCIe port I/O of the GPEX host bridge. */
export const PCIE_PIO: UnmodelledWindow = { name: 'pcie-pio', base: gpa(0x3000000), size: 0x10000, answer: 'zeros' };
/** Dynamic sysbus devices (-device ... on the platform bus): with none plugged, nothing answers. */
export const PLATFORM_BUS: UnmodelledWindow = { name: 'platform-bus', base: gpa(0x4000000), size: 0x2000000, answer: 'fault' };
/** QEMU's fw_cfg: not modelled; software learns of it only from QEMU's own device tree. */
export const FW_CFG: UnmodelledWindow = { name: 'fw-cfg', base: gpa(0x10100000), size: 0x18, answer: 'fault' };
/** Two CFI flash banks of 32 MiB: without a CFI answer, firmware finds no flash. */
export const FLASH: UnmodelledWindow = { name: 'flash', base: gpa(0x20000000), size: 0x4000000, answer: 'zeros' };
/** PCIe ECAM: all ones is "no function here" to an enumerating driver. */
export const PCIE_ECAM: UnmodelledWindow = { name: 'pcie-ecam', base: gpa(0x30000000), size: 0x10000000, answer: 'ones' };
/** PCIe 32-bit MMIO (BARs). */
export const PCIE_MMIO: UnmodelledWindow = { name: 'pcie-mmio', base: gpa(0x40000000), size: 0x40000000, answer: 'zeros' };
/** VIRT64_HIGH_PCIE_MMIO_SIZE */
const PCIE_HIGH_MMIO_SIZE = 16 * 2 ** 30;

/** PCIe 64-bit MMIO on rv64: 16 GiB at the first 16 GiB boundary at or above the end of RAM. */
export function pcieHighMmio(ramBytes: number): UnmodelledWindow {
  const base = Math.ceil((DRAM_BASE + ramBytes) / PCIE_HIGH_MMIO_SIZE) * PCIE_HIGH_MMIO_SIZE;
  return { name: 'pcie-high-mmio', base: gpa(base), size: PCIE_HIGH_MMIO_SIZE, answer: 'zeros' };
}

/**
 * Every other window of QEMU 7.2's virt_memmap below DRAM (default machine: no ACLINT SSWI,
 * APLIC or IMSIC, which exist only with aclint=on / aia=...), ordered by base. Together with
 * MACHINE_REGIONS and pcieHighMmio this is the whole map.
 */
export const UNMODELLED_WINDOWS: readonly UnmodelledWindow[] = [VIRT_DEBUG, PCIE_PIO, PLATFORM_BUS, FW_CFG, FLASH, PCIE_ECAM, PCIE_MMIO];

/** The region holding `addr`, or undefined: the single lookup every router uses. */
export function regionAt(addr: number): MachineRegion | undefined {
  for (const r of MACHINE_REGIONS) {
    if (addr >= r.base && addr < r.base + r.size) return r;
  }
  return undefined;
}
