import { describe, expect, it } from 'vitest';
import type { FdtNode } from './tree.js';
import { findNode, getProp, propCells, propStrings, readFdt } from './reader.js';
import { buildVirtDtb, VIRT_ISA, VIRT_ISA_H } from './virt.js';

const MIB = 1024 * 1024;

function paths(n: FdtNode, prefix = ''): string[] {
  return n.children.flatMap((c) => [`${prefix}/${c.name}`, ...paths(c, `${prefix}/${c.name}`)]);
}

/** phandle -> path of the node that carries it. */
function phandles(root: FdtNode): Map<number, string> {
  const m = new Map<number, string>();
  const walk = (n: FdtNode, path: string) => {
    const p = getProp(n, 'phandle');
    if (p) m.set(propCells(p)[0]!, path || '/');
    for (const c of n.children) walk(c, `${path}/${c.name}`);
  };
  walk(root, '');
  return m;
}

const cells = (root: FdtNode, path: string, name: string) => propCells(getProp(findNode(root, path)!, name)!);
const strs = (root: FdtNode, path: string, name: string) => propStrings(getProp(findNode(root, path)!, name)!);

describe('the virt machine device tree', () => {
  const { root, header } = readFdt(buildVirtDtb({ memoryBytes: 64 * MIB, harts: 1 }));

  it('has QEMU virt’s nodes at QEMU’s paths and nothing we do not emulate', () => {
    expect(header).toMatchObject({ version: 17, lastCompVersion: 16, bootCpuidPhys: 0 });
    expect(paths(root)).toEqual([
      '/chosen',
      '/poweroff',
      '/reboot',
      '/memory@80000000',
      '/cpus',
      '/cpus/cpu@0',
      '/cpus/cpu@0/interrupt-controller',
      '/cpus/cpu-map',
      '/cpus/cpu-map/cluster0',
      '/cpus/cpu-map/cluster0/core0',
      '/soc',
      '/soc/rtc@101000',
      '/soc/serial@10000000',
      '/soc/test@100000',
      ...[8, 7, 6, 5, 4, 3, 2, 1].map((i) => `/soc/virtio_mmio@1000${i}000`),
      '/soc/plic@c000000',
      '/soc/clint@2000000',
    ]);
  });

  it('describes RAM, the console and the hart', () => {
    expect(cells(root, '/memory@80000000', 'reg')).toEqual([0, 0x80000000, 0, 64 * MIB]);
    expect(strs(root, '/chosen', 'stdout-path')).toEqual(['/soc/serial@10000000']);
    expect(getProp(findNode(root, '/chosen')!, 'bootargs')).toBeUndefined();
    expect(cells(root, '/cpus', 'timebase-frequency')).toEqual([10_000_000]);
    expect(strs(root, '/cpus/cpu@0', 'riscv,isa')).toEqual([VIRT_ISA]);
    expect(strs(root, '/cpus/cpu@0', 'mmu-type')).toEqual(['riscv,sv48']);
    expect(strs(root, '/soc/serial@10000000', 'compatible')).toEqual(['ns16550a']);
    expect(cells(root, '/soc/serial@10000000', 'clock-frequency')).toEqual([3686400]);
    expect(cells(root, '/soc/plic@c000000', 'riscv,ndev')).toEqual([95]);
  });

  it('says "h" in every hart\'s riscv,isa when the harts have the H extension, as QEMU 7.2 does', () => {
    const withH = readFdt(buildVirtDtb({ memoryBytes: 64 * MIB, harts: 2, h: true })).root;
    expect(VIRT_ISA_H).toBe(VIRT_ISA.replace(/^rv64imafdc_/, 'rv64imafdch_'));
    expect(strs(withH, '/cpus/cpu@0', 'riscv,isa')).toEqual([VIRT_ISA_H]);
    expect(strs(withH, '/cpus/cpu@1', 'riscv,isa')).toEqual([VIRT_ISA_H]);
    // An explicit isa still wins.
    const given = readFdt(buildVirtDtb({ memoryBytes: 64 * MIB, harts: 1, h: true, isa: 'rv64imac' })).root;
    expect(strs(given, '/cpus/cpu@0', 'riscv,isa')).toEqual(['rv64imac']);
  });

  it('wires every reference to the node QEMU wires it to', () => {
    const ph = phandles(root);
    const target = (path: string, name: string) => ph.get(cells(root, path, name)[0]!);
    expect(target('/soc/serial@10000000', 'interrupt-parent')).toBe('/soc/plic@c000000');
    expect(target('/soc/virtio_mmio@10001000', 'interrupt-parent')).toBe('/soc/plic@c000000');
    expect(target('/poweroff', 'regmap')).toBe('/soc/test@100000');
    expect(target('/cpus/cpu-map/cluster0/core0', 'cpu')).toBe('/cpus/cpu@0');
    const intc = [...ph].find(([, p]) => p === '/cpus/cpu@0/interrupt-controller')![0];
    expect(cells(root, '/soc/plic@c000000', 'interrupts-extended')).toEqual([intc, 11, intc, 9]);
    expect(cells(root, '/soc/clint@2000000', 'interrupts-extended')).toEqual([intc, 3, intc, 7]);
    expect(cells(root, '/poweroff', 'value')).toEqual([0x5555]);
    expect(cells(root, '/reboot', 'value')).toEqual([0x7777]);
    expect(cells(root, '/soc/virtio_mmio@10008000', 'interrupts')).toEqual([8]);
    expect(cells(root, '/soc/rtc@101000', 'interrupts')).toEqual([11]);
  });

  it('gives each hart an M and an S context, hart by hart', () => {
    const two = readFdt(buildVirtDtb({ memoryBytes: 256 * MIB, harts: 2, bootargs: 'console=ttyS0' })).root;
    const ph = phandles(two);
    const intc = (h: number) => [...ph].find(([, p]) => p === `/cpus/cpu@${h}/interrupt-controller`)![0];
    expect(cells(two, '/soc/plic@c000000', 'interrupts-extended')).toEqual([intc(0), 11, intc(0), 9, intc(1), 11, intc(1), 9]);
    expect(strs(two, '/chosen', 'bootargs')).toEqual(['console=ttyS0']);
    expect(findNode(two, '/cpus/cpu-map/cluster0/core1')).toBeDefined();
  });

  it('refuses nonsense sizes', () => {
    expect(() => buildVirtDtb({ memoryBytes: 0, harts: 1 })).toThrow(/memoryBytes: 0/);
    expect(() => buildVirtDtb({ memoryBytes: MIB, harts: 0 })).toThrow(/harts: 0 is outside 1..512/);
  });
});
