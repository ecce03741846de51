// Our virt device tree against the reference: the tree QEMU itself builds for the same
// machine (`qemu-system-riscv64 -M virt,dumpdtb=...`), both decoded by an independent
// decoder (`dtc -I dtb -O dts`, Debian device-tree-compiler) and compared node by node and
// property by property, in order. Phandle numbers are replaced by the path of the node
// they name; the nodes we deliberately do not emulate are dropped from QEMU's side; the few
// values we deliberately differ on are listed below with the reason. Anything else that
// differs fails.
//
// QEMU and dtc are required: without them these tests fail, unless
// SPLITVISOR_ALLOW_NO_QEMU=1, which turns that into a skip with the reason printed.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFdt } from './reader.js';
import { buildVirtDtb, VIRT_ISA, VIRT_ISA_H } from './virt.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const QEMU = 'qemu-system-riscv64';
const DTC = 'dtc';

/** QEMU nodes we leave out on purpose: each must exist in QEMU's tree and not in ours. */
const NOT_EMULATED: Record<string, string> = {
  '/pmu': 'SBI PMU event map: our harts have no hpm event counters',
  '/fw-cfg@10100000': 'no fw_cfg device',
  '/flash@20000000': 'no pflash',
  '/platform-bus@4000000': 'no dynamic sysbus devices',
  '/soc/pci@30000000': 'no PCIe host bridge (yet)',
};

/** Extensions QEMU 7.2's default cpu advertises that our hart does not implement (H only
 *  when the VM does not ask for it: `-cpu rv64,h=true` and our `h`). */
const QEMU_ONLY_EXTENSIONS = ['h', 'zihintpause', 'zba', 'zbb', 'zbc', 'zbs'];
const QEMU_ONLY_WITH_H = QEMU_ONLY_EXTENSIONS.filter((x) => x !== 'h');

/** Values we deliberately write differently, with why. */
const DIFFERENT_ON_PURPOSE = [
  {
    path: '/soc/plic@c000000',
    prop: 'riscv,ndev',
    qemu: '<0x60>',
    ours: '<0x5f>',
    why: 'ndev counts sources 1..n (0 is "no interrupt"): 96 sources give 95; QEMU 7.2 says 96, later QEMU says 95',
  },
];

function onPath(cmd: string, arg = '--version'): boolean {
  const r = spawnSync(cmd, [arg], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

type SkipFn = (note?: string) => never;

function requireTools(skip: SkipFn): void {
  const missing = [...(onPath(QEMU) ? [] : [`${QEMU} (Debian: qemu-system-misc)`]), ...(onPath(DTC) ? [] : [`${DTC} (Debian: device-tree-compiler)`])];
  if (missing.length === 0) return;
  const why = `${missing.join(' and ')} not on PATH`;
  if (process.env['SPLITVISOR_ALLOW_NO_QEMU'] === '1') {
    console.warn(`SKIPPED: ${why}; SPLITVISOR_ALLOW_NO_QEMU=1 allows that.`);
    skip(`${why} (SPLITVISOR_ALLOW_NO_QEMU=1)`);
  }
  throw new Error(`${why}. This test compares our device tree with QEMU's through dtc; install them, or set SPLITVISOR_ALLOW_NO_QEMU=1 to skip it.`);
}

interface DtsNode {
  name: string;
  props: [string, string][];
  children: DtsNode[];
}

/** dtc's dts output: one property per line, `name {` ... `};` around nodes. */
function parseDts(text: string): DtsNode {
  const stack: DtsNode[] = [];
  let root: DtsNode | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line === '/dts-v1/;') continue;
    if (line.startsWith('/memreserve/')) throw new Error(`unexpected memory reservation: ${line}`);
    const open = /^(\S+) \{$/.exec(line);
    if (open) {
      const n: DtsNode = { name: open[1]!, props: [], children: [] };
      if (stack.length) stack[stack.length - 1]!.children.push(n);
      else root = n;
      stack.push(n);
    } else if (line === '};') {
      stack.pop();
    } else {
      const p = /^([^\s=]+)(?: = (.*))?;$/.exec(line);
      if (!p || !stack.length) throw new Error(`cannot read dts line ${JSON.stringify(raw)}`);
      stack[stack.length - 1]!.props.push([p[1]!, p[2] ?? '']);
    }
  }
  if (!root || stack.length) throw new Error('unbalanced dts');
  return root;
}

function decode(dtb: string): { tree: DtsNode; warnings: string[] } {
  const r = spawnSync(DTC, ['-I', 'dtb', '-O', 'dts', dtb], { encoding: 'utf8' });
  expect(r.status, `dtc -I dtb -O dts ${dtb}: ${r.stderr}`).toBe(0);
  const warnings = r.stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^<stdout>: /, ''));
  return { tree: parseDts(r.stdout), warnings };
}

const walk = (n: DtsNode, path: string, f: (n: DtsNode, path: string) => void) => {
  f(n, path);
  for (const c of n.children) walk(c, `${path === '/' ? '' : path}/${c.name}`, f);
};

/** Replaces phandle numbers by the path of the node they name, so numbering is free. */
function normalisePhandles(root: DtsNode): void {
  const byNumber = new Map<number, string>();
  walk(root, '/', (n, path) => {
    const p = n.props.find(([k]) => k === 'phandle');
    if (p) byNumber.set(Number(/^<(0x[0-9a-f]+)>$/.exec(p[1])![1]), path);
  });
  const ref = (cell: string) => {
    const path = byNumber.get(Number(cell));
    if (!path) throw new Error(`${cell} is not a phandle of this tree`);
    return `&{${path}}`;
  };
  const cells = (v: string) => /^<(.*)>$/.exec(v)![1]!.split(' ');
  walk(root, '/', (n) => {
    n.props = n.props.map(([k, v]): [string, string] => {
      if (k === 'phandle') return [k, '<phandle>'];
      if (k === 'interrupt-parent' || k === 'regmap' || k === 'cpu') return [k, `<${ref(cells(v)[0]!)}>`];
      // <&intc irq>... with #interrupt-cells = 1 on every hart's intc
      if (k === 'interrupts-extended')
        return [
          k,
          `<${cells(v)
            .map((c, i) => (i % 2 ? c : ref(c)))
            .join(' ')}>`,
        ];
      return [k, v];
    });
  });
}

function dropNode(root: DtsNode, path: string): boolean {
  const parts = path.split('/').filter(Boolean);
  let parent = root;
  for (const p of parts.slice(0, -1)) {
    const next = parent.children.find((c) => c.name === p);
    if (!next) return false;
    parent = next;
  }
  const before = parent.children.length;
  parent.children = parent.children.filter((c) => c.name !== parts[parts.length - 1]);
  return parent.children.length < before;
}

function propOf(root: DtsNode, path: string, name: string): [string, string] {
  let found: [string, string] | undefined;
  walk(root, '/', (n, p) => {
    if (p === path) found = n.props.find(([k]) => k === name);
  });
  if (!found) throw new Error(`${path} has no ${name}`);
  return found;
}

function withoutExtensions(isa: string, drop: readonly string[]): string {
  const [base, ...multi] = isa.split('_');
  const letters = [...base!.slice(4)].filter((l) => !drop.includes(l)).join('');
  return [base!.slice(0, 4) + letters, ...multi.filter((m) => !drop.includes(m))].join('_');
}

const CASES: {
  memory: string;
  memoryBytes: number;
  harts: number;
  bootargs: string | undefined;
  initrdBytes?: number;
  /** virtio devices in chosen slots (QEMU's bus=; Splitvisor's slot:); DISK is a temp file. */
  devices?: string[];
  /** The H extension: QEMU's -cpu rv64,h=true, our `h` (a VM config's cpu.h). */
  h?: boolean;
}[] = [
  { memory: '64M', memoryBytes: 64 << 20, harts: 1, bootargs: undefined, h: true },
  { memory: '64M', memoryBytes: 64 << 20, harts: 1, bootargs: undefined },
  { memory: '256M', memoryBytes: 256 << 20, harts: 2, bootargs: 'console=ttyS0 earlycon=sbi' },
  // -initrd: QEMU loads it 128 MiB above the kernel (-bios none: the kernel is at 0x80000000).
  { memory: '256M', memoryBytes: 256 << 20, harts: 1, bootargs: 'console=ttyS0', initrdBytes: 12345 },
  // Under 256 MiB, half of RAM above the kernel.
  { memory: '128M', memoryBytes: 128 << 20, harts: 1, bootargs: 'console=ttyS0', initrdBytes: 4096 },
  // Devices placed with bus= (issue 17): QEMU lists all eight transports whatever sits in
  // them, so the tree for `slot:` devices is the tree without devices.
  {
    memory: '64M',
    memoryBytes: 64 << 20,
    harts: 1,
    bootargs: undefined,
    devices: [
      '-drive',
      'file=DISK,if=none,format=raw,id=d0',
      '-device',
      'virtio-blk-device,drive=d0,bus=virtio-mmio-bus.0',
      '-device',
      'virtio-rng-device,bus=virtio-mmio-bus.3',
      '-netdev',
      'user,id=n0',
      '-device',
      'virtio-net-device,netdev=n0,bus=virtio-mmio-bus.5',
    ],
  },
];

describe("the virt device tree against QEMU's (decoded by dtc)", () => {
  for (const c of CASES) {
    it(`${c.h ? '-cpu rv64,h=true ' : ''}-m ${c.memory} -smp ${c.harts}${c.bootargs ? ` -append "${c.bootargs}"` : ''}${c.initrdBytes ? ` -initrd (${c.initrdBytes} bytes)` : ''}${c.devices ? ` ${c.devices.filter((a) => a.includes('bus=')).join(' ')}` : ''}`, ({
      skip,
    }) => {
      requireTools(skip);
      const dir = mkdtempSync(join(tmpdir(), 'sv-fdt-'));
      try {
        const qemuDtb = join(dir, 'qemu.dtb');
        const args = [
          '-M',
          `virt,dumpdtb=${qemuDtb}`,
          ...(c.h ? ['-cpu', 'rv64,h=true'] : []),
          '-m',
          c.memory,
          '-smp',
          String(c.harts),
          '-bios',
          'none',
          '-nographic',
        ];
        // -append needs -kernel; the kernel's bytes do not enter the tree.
        if (c.bootargs) args.push('-kernel', join(REPO_ROOT, 'guests/hello/hello.bin'), '-append', c.bootargs);
        const initrdStart = 0x8000_0000 + Math.min(c.memoryBytes / 2, 128 << 20);
        if (c.initrdBytes) {
          writeFileSync(join(dir, 'initrd'), randomBytes(c.initrdBytes));
          args.push('-initrd', join(dir, 'initrd'));
        }
        if (c.devices) {
          writeFileSync(join(dir, 'disk.img'), Buffer.alloc(1 << 20));
          args.push(...c.devices.map((a) => a.replace('DISK', join(dir, 'disk.img'))));
        }
        const q = spawnSync(QEMU, args, { encoding: 'utf8', timeout: 20_000 });
        expect(q.status, `${QEMU} ${args.join(' ')}: ${q.stderr}`).toBe(0);

        const oursDtb = join(dir, 'ours.dtb');
        // QEMU 7.2 puts 32 fresh random bytes in /chosen/rng-seed on every boot; so do we.
        const ours = buildVirtDtb({
          memoryBytes: c.memoryBytes,
          harts: c.harts,
          bootargs: c.bootargs,
          rngSeed: randomBytes(32),
          ...(c.h && { h: true }),
          ...(c.initrdBytes && { initrd: { start: initrdStart, end: initrdStart + c.initrdBytes } }),
        });
        writeFileSync(oursDtb, ours);

        // The header fields a reader acts on, and the (empty) reservation block.
        const qh = readFdt(readFileSync(qemuDtb));
        const oh = readFdt(ours);
        const headerFacts = (p: typeof qh) => ({
          version: p.header.version,
          lastComp: p.header.lastCompVersion,
          bootCpuid: p.header.bootCpuidPhys,
          memReserve: p.memReserve,
        });
        expect(headerFacts(oh)).toEqual(headerFacts(qh));

        const theirs = decode(qemuDtb);
        const mine = decode(oursDtb);

        for (const [path, why] of Object.entries(NOT_EMULATED)) {
          expect(dropNode(theirs.tree, path), `${path} (${why}) is no longer in QEMU's tree: update NOT_EMULATED`).toBe(true);
          expect(dropNode(mine.tree, path), `${path} is in our tree though NOT_EMULATED says it is not`).toBe(false);
        }

        // rng-seed: random on both sides; only its length must agree.
        for (const t of [theirs.tree, mine.tree]) {
          const seed = propOf(t, '/chosen', 'rng-seed');
          seed[1] = `<${seed[1].split(' ').length} cells>`;
        }

        const qemuIsa = JSON.parse(propOf(theirs.tree, '/cpus/cpu@0', 'riscv,isa')[1]) as string;
        const qemuOnly = c.h ? QEMU_ONLY_WITH_H : QEMU_ONLY_EXTENSIONS;
        for (const ext of qemuOnly) {
          expect(withoutExtensions(qemuIsa, [ext]), `QEMU's ISA ${qemuIsa} no longer has ${ext}: update QEMU_ONLY_EXTENSIONS`).not.toBe(qemuIsa);
        }
        walk(theirs.tree, '/', (n) => {
          n.props = n.props.map(([k, v]): [string, string] => (k === 'riscv,isa' ? [k, `"${withoutExtensions(JSON.parse(v) as string, qemuOnly)}"`] : [k, v]));
        });
        expect(propOf(mine.tree, '/cpus/cpu@0', 'riscv,isa')[1]).toBe(`"${c.h ? VIRT_ISA_H : VIRT_ISA}"`);

        for (const d of DIFFERENT_ON_PURPOSE) {
          const q = propOf(theirs.tree, d.path, d.prop);
          const o = propOf(mine.tree, d.path, d.prop);
          expect([q[1], o[1]], `${d.path} ${d.prop}: ${d.why}`).toEqual([d.qemu, d.ours]);
          q[1] = o[1] = `(${d.why})`;
        }

        normalisePhandles(theirs.tree);
        normalisePhandles(mine.tree);
        expect(mine.tree).toEqual(theirs.tree);

        // dtc's checks find nothing in ours that they do not find in QEMU's too.
        expect(mine.warnings).toEqual(theirs.warnings.filter((w) => !Object.keys(NOT_EMULATED).some((p) => w.includes(`${p}:`) || w.includes(`${p}/`))));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
