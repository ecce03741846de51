// QEMU's `virt` device tree for our machine (QEMU 7.2 hw/riscv/virt.c, create_fdt and
// create_fdt_socket_*), built from the machine table in @splitvisor/platform, so that
// firmware and kernels written for `qemu-system-riscv64 -M virt` find what they expect.
//
// Order: QEMU builds its tree with libfdt, which inserts every new property and subnode
// ahead of the existing ones, so the DTB a guest sees lists them in the reverse of
// virt.c's calls. We write that final order directly; phandles are numbered as QEMU numbers
// them (harts from last to first, then the PLIC, then the test device).
//
// Left out, because we do not emulate them: /pmu (SBI PMU event map; our harts have no
// hpm event counters), /fw-cfg@10100000, /flash@20000000, /platform-bus@4000000 and
// /soc/pci@30000000. tests pin that list against QEMU's own DTB.
import {
  CLINT,
  DRAM_BASE,
  GOLDFISH_RTC,
  PLIC,
  PLIC_SOURCES,
  SIFIVE_TEST,
  SIFIVE_TEST_PASS,
  SIFIVE_TEST_RESET,
  TIMEBASE_HZ,
  UART0,
  VIRTIO_MMIO_SLOTS,
  virtioMmioSlot,
  type MachineRegion,
} from '@splitvisor/platform';
import { FdtError, node, Phandles, prop, type FdtNode, type Phandle } from './tree.js';
import { writeFdt } from './writer.js';

/** What our hart implements (DESIGN.md: RV64GC, and Sstc's stimecmp, which OpenSBI finds by
 *  probing and a kernel reads from here). QEMU 7.2's default cpu says
 *  "rv64imafdch_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc"; we claim only what we have. */
export const VIRT_ISA = 'rv64imafdc_zicsr_zifencei_sstc';
/** The same hart with the H extension, as QEMU 7.2 says it for `-cpu rv64,h=true`: the "h"
 *  last of the single letters, right after the "c" ("rv64imafdch_zicsr_..." in its dumped
 *  DTB); 7.2 has no riscv,isa-extensions property to repeat it in. */
export const VIRT_ISA_H = 'rv64imafdch_zicsr_zifencei_sstc';
/** QEMU 7.2 advertises Sv48 for rv64 (virt.c: "riscv,sv48"); Sv39 is implied by it. */
export const VIRT_MMU_TYPE = 'riscv,sv48';
/** The ns16550a input clock QEMU advertises (virt.c: 3686400 Hz). */
export const UART0_CLOCK_HZ = 3_686_400;
/** The path /chosen's stdout-path names: UART0. */
export const VIRT_STDOUT_PATH = `/soc/${nodeName(UART0)}`;
/** RISC-V local interrupt numbers (privileged spec, mip): software, timer, external. */
const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;
const IRQ_S_EXT = 9;
const IRQ_M_EXT = 11;
const MAX_HARTS = 512; // PLIC window 0x600000 holds 2 contexts per hart for 512 harts

export interface VirtDtbOptions {
  /** Guest RAM at DRAM_BASE. */
  memoryBytes: number;
  harts: number;
  /** /chosen bootargs (QEMU's -append). */
  bootargs?: string;
  /** /chosen rng-seed: QEMU 7.2 puts 32 random bytes there on every boot. */
  rngSeed?: Uint8Array;
  /** /chosen linux,initrd-start and linux,initrd-end: where the initrd lies, end exclusive. */
  initrd?: { start: number; end: number };
  /** The harts have the H extension: riscv,isa VIRT_ISA_H unless `isa` says otherwise. */
  h?: boolean;
  /** cpu riscv,isa; default VIRT_ISA (VIRT_ISA_H with `h`). */
  isa?: string;
  /** cpu mmu-type; default VIRT_MMU_TYPE. */
  mmuType?: 'riscv,sv39' | 'riscv,sv48';
}

function nodeName(r: MachineRegion): string {
  return `${r.name}@${r.base.toString(16)}`;
}

function compatible(r: MachineRegion): readonly string[] {
  if (!r.compatible?.length) throw new FdtError(`machine region ${r.name} has no compatible strings`);
  return r.compatible;
}

/** `reg = <base size>` with #address-cells = #size-cells = 2. */
const reg = (base: number, size: number) => prop.u64('reg', base, size);

function irqDevice(r: MachineRegion, plic: Phandle): FdtNode {
  if (r.irq === undefined) throw new FdtError(`machine region ${r.name} has no IRQ`);
  return node(nodeName(r), [prop.u32('interrupts', r.irq), prop.ref('interrupt-parent', plic), reg(r.base, r.size), prop.strings('compatible', compatible(r))]);
}

/** The virt machine's device tree as a tree of nodes. */
export function virtTree(opts: VirtDtbOptions): FdtNode {
  const { memoryBytes, harts } = opts;
  if (!Number.isInteger(memoryBytes) || memoryBytes <= 0) throw new FdtError(`memoryBytes: ${memoryBytes} is not a positive whole number`);
  if (!Number.isInteger(harts) || harts < 1 || harts > MAX_HARTS) throw new FdtError(`harts: ${harts} is outside 1..${MAX_HARTS}`);

  const ph = new Phandles();
  const cpuPh: Phandle[] = [];
  const intcPh: Phandle[] = [];
  for (let h = harts - 1; h >= 0; h--) {
    cpuPh[h] = ph.next();
    intcPh[h] = ph.next();
  }
  const plicPh = ph.next();
  const testPh = ph.next();
  const hartIds = Array.from({ length: harts }, (_, h) => h);

  const { initrd } = opts;
  if (initrd && !(Number.isInteger(initrd.start) && Number.isInteger(initrd.end) && initrd.start <= initrd.end && initrd.end <= 0xffffffff)) {
    throw new FdtError(`initrd: [${initrd.start}, ${initrd.end}) is not a range of 32-bit addresses`);
  }
  // In QEMU's order (each property it adds goes first); one cell each, as QEMU 7.2's
  // qemu_fdt_setprop_cell writes them (virt's RAM ends below 4 GiB).
  const chosen = node('chosen', [
    ...(initrd ? [prop.u32('linux,initrd-end', initrd.end), prop.u32('linux,initrd-start', initrd.start)] : []),
    ...(opts.rngSeed ? [prop.bytes('rng-seed', opts.rngSeed)] : []),
    ...(opts.bootargs !== undefined && opts.bootargs !== '' ? [prop.string('bootargs', opts.bootargs)] : []),
    prop.string('stdout-path', VIRT_STDOUT_PATH),
  ]);

  // sifive_test as a syscon: a 32-bit write of `value` at `offset` powers off or resets.
  const syscon = (name: string, compat: string, value: number) =>
    node(name, [prop.u32('value', value), prop.u32('offset', 0), prop.ref('regmap', testPh), prop.string('compatible', compat)]);

  const memory = node(`memory@${DRAM_BASE.toString(16)}`, [prop.string('device_type', 'memory'), reg(DRAM_BASE, memoryBytes)]);

  const cpu = (h: number) =>
    node(
      `cpu@${h}`,
      [
        prop.phandle(cpuPh[h]!),
        prop.string('device_type', 'cpu'),
        prop.u32('reg', h),
        prop.string('status', 'okay'),
        prop.string('compatible', 'riscv'),
        prop.string('riscv,isa', opts.isa ?? (opts.h ? VIRT_ISA_H : VIRT_ISA)),
        prop.string('mmu-type', opts.mmuType ?? VIRT_MMU_TYPE),
      ],
      [
        node('interrupt-controller', [
          prop.u32('#interrupt-cells', 1),
          prop.empty('interrupt-controller'),
          prop.string('compatible', 'riscv,cpu-intc'),
          prop.phandle(intcPh[h]!),
        ]),
      ],
    );
  const cpuMap = node(
    'cpu-map',
    [],
    [
      node(
        'cluster0',
        [],
        hartIds.map((h) => node(`core${h}`, [prop.ref('cpu', cpuPh[h]!)])),
      ),
    ],
  );
  const cpus = node(
    'cpus',
    [prop.u32('#address-cells', 1), prop.u32('#size-cells', 0), prop.u32('timebase-frequency', TIMEBASE_HZ)],
    [...hartIds.map(cpu), cpuMap],
  );

  const rtc = irqDevice(GOLDFISH_RTC, plicPh);
  if (UART0.irq === undefined) throw new FdtError('UART0 has no IRQ');
  const serial = node(nodeName(UART0), [
    prop.u32('interrupts', UART0.irq),
    prop.ref('interrupt-parent', plicPh),
    prop.u32('clock-frequency', UART0_CLOCK_HZ),
    reg(UART0.base, UART0.size),
    prop.strings('compatible', compatible(UART0)),
  ]);
  const test = node(nodeName(SIFIVE_TEST), [
    prop.phandle(testPh),
    reg(SIFIVE_TEST.base, SIFIVE_TEST.size),
    prop.strings('compatible', compatible(SIFIVE_TEST)),
  ]);
  // virt.c creates the slots from 0 up; libfdt's insert-first leaves the last slot first.
  const virtio = Array.from({ length: VIRTIO_MMIO_SLOTS }, (_, i) => irqDevice(virtioMmioSlot(VIRTIO_MMIO_SLOTS - 1 - i), plicPh));
  // Per hart, the PLIC has an M-mode and an S-mode context, in that order (context 2h, 2h+1).
  const plic = node(nodeName(PLIC), [
    prop.phandle(plicPh),
    // Sources are numbered 1..ndev; source 0 means "none" (PLIC spec), so ndev = sources - 1.
    prop.u32('riscv,ndev', PLIC_SOURCES - 1),
    reg(PLIC.base, PLIC.size),
    prop.u32('interrupts-extended', ...hartIds.flatMap((h) => [intcPh[h]!, IRQ_M_EXT, intcPh[h]!, IRQ_S_EXT])),
    prop.empty('interrupt-controller'),
    prop.strings('compatible', compatible(PLIC)),
    prop.u32('#address-cells', 0),
    prop.u32('#interrupt-cells', 1),
  ]);
  const clint = node(nodeName(CLINT), [
    prop.u32('interrupts-extended', ...hartIds.flatMap((h) => [intcPh[h]!, IRQ_M_SOFT, intcPh[h]!, IRQ_M_TIMER])),
    reg(CLINT.base, CLINT.size),
    prop.strings('compatible', compatible(CLINT)),
  ]);
  const soc = node(
    'soc',
    [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.string('compatible', 'simple-bus'), prop.empty('ranges')],
    [rtc, serial, test, ...virtio, plic, clint],
  );

  return node(
    '',
    [prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.string('compatible', 'riscv-virtio'), prop.string('model', 'riscv-virtio,qemu')],
    [chosen, syscon('poweroff', 'syscon-poweroff', SIFIVE_TEST_PASS), syscon('reboot', 'syscon-reboot', SIFIVE_TEST_RESET), memory, cpus, soc],
  );
}

/** The virt machine's DTB, as QEMU 7.2 would hand it to the first stage in a1. */
export function buildVirtDtb(opts: VirtDtbOptions): Uint8Array {
  return writeFdt(virtTree(opts), { bootCpuidPhys: 0 });
}
