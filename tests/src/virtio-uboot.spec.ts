// The paravirtual split driver, end to end with firmware nobody here wrote: Debian's U-Boot
// finds a virtio-blk disk and a virtio-net NIC behind the virt machine's virtio-mmio slots,
// reads and writes a FAT file system on a raw image the test made, gets an address from the
// gateway by DHCP, pings it and fetches a file by TFTP. Then QEMU, given the same firmware
// and the same images, is asked the same questions, and must give the same answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { configDir, labEnv, runCli, SPLITVISOR } from './cli-runner.js';
import { FIRMWARE, normalize, readFatFile, requireFirmware, startQemuUboot, UbootConsole } from './uboot-console.js';
import { MAC, blob, expectVirtioAnswers, makeVirtioFixtures, session, writtenPattern } from './virtio-session.js';

const { dir, vmFile } = configDir('sv-virtio-');

let t: TestLab;
let ours: Record<string, string> | undefined;
const { disk: splitvisorDisk, tftpDir } = makeVirtioFixtures(dir);
const qemuDisk = join(dir, 'disk-qemu.img');
/** The disks of the hw and trap runs: copies made before any run wrote to the others. */
const modeDisk = (mode: string) => join(dir, `disk-${mode}.img`);

beforeAll(async () => {
  copyFileSync(splitvisorDisk, qemuDisk);
  for (const mode of ['hw', 'trap']) copyFileSync(splitvisorDisk, modeDisk(mode));
  t = await startTestLab();
}, 60_000);
afterAll(async () => {
  await t?.teardown();
});

describe('U-Boot on virtio-blk and virtio-net', () => {
  it('reads and writes a FAT disk, gets a DHCP lease, pings the gateway, fetches a file by TFTP, and powers off', async ({ skip }) => {
    requireFirmware(skip);
    const cfg = vmFile(
      'uboot-virtio',
      [
        'name: uboot-virtio',
        'memory: 256M',
        `firmware: ${FIRMWARE.fwJump}`,
        `kernel: ${FIRMWARE.uboot}`,
        'disks:',
        `  - path: ${splitvisorDisk}`,
        'nics:',
        '  - network: uboot-lab',
        `    mac: "${MAC}"`,
        `    tftp: ${tftpDir}`,
        '',
      ].join('\n'),
    );
    const c = new UbootConsole(spawn(process.execPath, [SPLITVISOR, 'run', cfg], { env: { ...process.env, ...labEnv(t) }, stdio: ['pipe', 'pipe', 'pipe'] }));
    let stderr = '';
    c.child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let stats: {
      devices?: { virtio?: { id: string; kind: string; slot: number; counters: Record<string, number>; lastError: string }[]; dma?: Record<string, number> };
    } = {};
    try {
      ours = await session(c, 240_000);
      // What the toolstack shows of the devices while the VM runs (xentop's view).
      const s = await runCli(['stats', 'uboot-virtio'], { env: labEnv(t) });
      expect(s.stderr).toBe('');
      stats = JSON.parse(s.stdout) as typeof stats;
      const code = await c.poweroff();
      const tail = `\n--- console tail ---\n${c.out.slice(-2000)}\n--- stderr ---\n${stderr.slice(-1500)}`;
      expect(code, tail).toBe(0);
    } finally {
      c.kill();
    }
    const a = ours;
    expectVirtioAnswers(a);

    const blk = stats.devices?.virtio?.find((d) => d.id === 'virtio-blk0');
    const net = stats.devices?.virtio?.find((d) => d.id === 'virtio-net0');
    expect(blk).toMatchObject({ kind: 'virtio-blk', slot: 7, lastError: '' });
    expect(net).toMatchObject({ kind: 'virtio-net', slot: 6, lastError: '' });
    expect(blk!.counters['transport.notifies']).toBeGreaterThan(0);
    expect(blk!.counters['transport.needsReset']).toBe(0);
    expect(net!.counters['switch.framesIn']).toBeGreaterThan(200); // ~210 TFTP blocks, ARP, DHCP, ping
    expect(Number(stats.devices?.dma?.['bytesRead'])).toBeGreaterThan(blob.length); // the FAT read went through mmu

    // The guest's write reached the image: the host reads it back through mtools.
    const written = readFatFile(splitvisorDisk, 'out.bin');
    const pattern = writtenPattern();
    expect(written.equals(pattern)).toBe(true);

    // poweroff freed everything: devices detached (image closed, switch port left) and
    // the network's switch and gateway gone with its last port.
    const io = t.lines.filter((l) => l.service === 'io-backend').map((l) => l.line);
    expect(io.some((l) => l.includes('virtio device unplugged') && l.includes('virtio-blk0'))).toBe(true);
    expect(io.some((l) => l.includes('network switch down') && l.includes('uboot-lab'))).toBe(true);
    expect(io.some((l) => l.includes('vm detached') && l.includes('uboot-virtio'))).toBe(true);
  }, 600_000);

  it('QEMU, given the same images, gives the same answers', async ({ skip }) => {
    requireFirmware(skip);
    if (!ours) throw new Error('the Splitvisor run above did not finish; nothing to compare');
    const q = startQemuUboot({ disk: qemuDisk, tftpDir, mac: MAC });
    let theirs: Record<string, string>;
    try {
      theirs = await session(q, 60_000);
      await q.poweroff();
    } finally {
      q.kill();
    }
    for (const key of Object.keys(ours)) {
      if (key === 'boot') continue; // the banner carries build and memory-map lines that differ by design
      expect(normalize(ours[key]!), `answer to "${key}"`).toBe(normalize(theirs[key]!));
    }
    const pattern = writtenPattern();
    expect(readFatFile(qemuDisk, 'out.bin').equals(pattern)).toBe(true);
  }, 300_000);
});

// hw: the cpu plays HS-mode, U-Boot runs in VS; trap: U-Boot runs in real U-mode, its
// privileged instructions emulated and its memory behind shadow page tables.
describe.each(['hw', 'trap'] as const)('U-Boot in mode: %s, with no firmware in the guest', (mode) => {
  it('gives the same answers as in emulate mode, with no OpenSBI, and the exits of its mode in the table', async ({ skip }) => {
    requireFirmware(skip);
    if (!ours) throw new Error('the emulate-mode run above did not finish; nothing to compare');
    const name = `uboot-${mode}`;
    const disk = modeDisk(mode);
    const cfg = vmFile(
      name,
      [
        `name: ${name}`,
        'memory: 256M',
        `mode: ${mode}`,
        `kernel: ${FIRMWARE.uboot}`,
        'disks:',
        `  - path: ${disk}`,
        'nics:',
        `  - network: ${name}-lab`,
        `    mac: "${MAC}"`,
        `    tftp: ${tftpDir}`,
        '',
      ].join('\n'),
    );
    const c = new UbootConsole(spawn(process.execPath, [SPLITVISOR, 'run', cfg], { env: { ...process.env, ...labEnv(t) }, stdio: ['pipe', 'pipe', 'pipe'] }));
    let stderr = '';
    c.child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let hw: Record<string, string>;
    let stats: { cpu?: { mode: string; exits: { reason: string; count: number }[] } } = {};
    try {
      hw = await session(c, 240_000);
      const s = await runCli(['stats', name], { env: labEnv(t) });
      expect(s.stderr).toBe('');
      stats = JSON.parse(s.stdout) as typeof stats;
      const code = await c.poweroff();
      expect(code, `\n--- console tail ---\n${c.out.slice(-2000)}\n--- stderr ---\n${stderr.slice(-1500)}`).toBe(0);
    } finally {
      c.kill();
    }
    expect(hw['boot']).toMatch(/U-Boot 2023\.01/);
    expect(hw['boot']).not.toMatch(/OpenSBI/);
    for (const key of Object.keys(ours)) {
      if (key === 'boot') continue;
      expect(normalize(hw[key]!), `answer to "${key}" in ${mode} against emulate`).toBe(normalize(ours[key]!));
    }
    const exits = Object.fromEntries((stats.cpu?.exits ?? []).map((e) => [e.reason, e.count]));
    expect(stats.cpu?.mode).toBe(mode);
    // This U-Boot makes no SBI call in this session (its timer is rdtime, its poweroff the
    // device tree's syscon, the test finisher): the SBI is exercised by the kernel's runs.
    expect(exits['sbi-call']).toBe(0);
    expect(exits['mmio-read']).toBeGreaterThan(0);
    if (mode === 'hw') {
      expect(exits['guest-page-fault']).toBeGreaterThan(100); // every first touch of a page
      expect(exits['shadow-fault']).toBe(0);
      expect(exits['priv-insn']).toBe(0);
    } else {
      // Paging off: the shadow is RAM identity-mapped, a fill per page touched; its CSR
      // accesses (sstatus, sie, stvec...) are emulated one by one.
      expect(exits['shadow-fault']).toBeGreaterThan(100);
      expect(exits['priv-insn']).toBeGreaterThan(0);
      expect(exits['guest-page-fault']).toBe(0);
    }
    const pattern = writtenPattern();
    expect(readFatFile(disk, 'out.bin').equals(pattern)).toBe(true);
  }, 600_000);
});

describe('two VMs on one virtual switch', () => {
  it('reach each other: each answers the ARP and ping of the other, across io-backend and NATS', async ({ skip }) => {
    requireFirmware(skip);
    const vm = (name: string, mac: string) =>
      vmFile(
        name,
        [
          `name: ${name}`,
          'memory: 256M',
          `firmware: ${FIRMWARE.fwJump}`,
          `kernel: ${FIRMWARE.uboot}`,
          'nics:',
          '  - network: pair',
          `    mac: "${mac}"`,
          '',
        ].join('\n'),
      );
    const start = (cfg: string) =>
      new UbootConsole(spawn(process.execPath, [SPLITVISOR, 'run', cfg], { env: { ...process.env, ...labEnv(t) }, stdio: ['pipe', 'pipe', 'pipe'] }));
    const a = start(vm('pair-a', '52:54:00:00:00:a1'));
    const b = start(vm('pair-b', '52:54:00:00:00:a2'));
    try {
      await Promise.all([a.boot(240_000), b.boot(240_000)]);
      for (const [c, ip] of [
        [a, '10.0.2.21'],
        [b, '10.0.2.22'],
      ] as const) {
        await c.command(`setenv ipaddr ${ip}`);
        await c.command('setenv netmask 255.255.255.0');
      }
      // U-Boot answers ARP and echo requests only while a network command runs, so both
      // ping at once: each is in its network loop while the other asks.
      const [fromA, fromB] = await Promise.all([a.command('ping 10.0.2.22', 60_000), b.command('ping 10.0.2.21', 60_000)]);
      expect(fromA, `${fromA}\n---\n${fromB}`).toMatch(/host 10\.0\.2\.22 is alive/);
      expect(fromB, `${fromA}\n---\n${fromB}`).toMatch(/host 10\.0\.2\.21 is alive/);
      expect(await a.poweroff()).toBe(0);
      expect(await b.poweroff()).toBe(0);
    } finally {
      a.kill();
      b.kill();
    }
  }, 600_000);
});
