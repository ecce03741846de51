// Booting through firmware, end to end: the config fields firmware:/kernel:/bootargs:,
// dom0 loading the firmware, the kernel and its device tree through mmu as QEMU lays them
// out for `-M virt -bios <firmware> -kernel <kernel>`, and the hart entering the firmware.
// Real nats-server, the four services as processes, the CLI as a process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, REPO_ROOT, type TestLab } from '@splitvisor/testing';
import { HELLO_CONSOLE } from './guest-expectations.js';
import { configDir, labEnv, runCli } from './cli-runner.js';
import { FIRMWARE, requireFirmware } from './uboot-console.js';
import { GuestRam } from './guest-ram.js';

let t: TestLab;
let env: Record<string, string>;
let ram: GuestRam;
const { vmFile } = configDir('sv-fw-');

beforeAll(async () => {
  t = await startTestLab();
  env = labEnv(t);
  ram = new GuestRam(t.addresses.mmu, 'firmware-test');
});
afterAll(async () => {
  ram?.close();
  await t?.teardown();
});

/** `len` bytes of `vmId`'s RAM at guest-physical `addr`, read by DMA. */
const guestBytes = (vmId: string, addr: number, len: number): Promise<Buffer> => ram.read(vmId, addr, len);

/** The addresses dom0 logged when it loaded `vm`. */
function loadedAt(vm: string): { dtb: number; entry: number } {
  const line = t.lines.filter((l) => l.service === 'dom0' && l.line.includes('image loaded') && l.line.includes(vm)).at(-1)?.line ?? '';
  const hexOf = (key: string) => Number(new RegExp(`${key}\\W+(0x[0-9a-f]+)`).exec(line)?.[1]);
  return { dtb: hexOf('dtb'), entry: hexOf('entry') };
}

describe('a VM booted through firmware', () => {
  it('enters the firmware at 0x80000000 first, as QEMU -bios does (hello.bin as the firmware)', async () => {
    const f = vmFile(
      'fw-hello',
      `name: fw-hello\nmemory: 64M\nfirmware: ${join(REPO_ROOT, 'guests/hello/hello.bin')}\nkernel: ${join(REPO_ROOT, 'guests/echo/echo.bin')}\n`,
    );
    const r = await runCli(['run', f], { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(HELLO_CONSOLE);
    expect(r.code).toBe(0);
  });

  it('loads firmware, kernel and device tree where QEMU virt puts them', async () => {
    const fw = join(REPO_ROOT, 'guests/hello/hello.bin');
    const kernel = join(REPO_ROOT, 'guests/echo/echo.bin');
    const f = vmFile('fw-layout', `name: fw-layout\nmemory: 64M\nfirmware: ${fw}\nkernel: ${kernel}\nbootargs: console=ttyS0 earlycon=sbi\n`);
    const c = await runCli(['create', f], { env });
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    try {
      const fwBytes = readFileSync(fw);
      const kBytes = readFileSync(kernel);
      expect(await guestBytes('fw-layout', 0x80000000, fwBytes.length)).toEqual(fwBytes);
      expect(await guestBytes('fw-layout', 0x80200000, kBytes.length)).toEqual(kBytes);
      // QEMU 7.2 with -m 64M: the fdt blob at 0x83e00000 (info roms), entered via the firmware.
      expect(loadedAt('fw-layout')).toEqual({ dtb: 0x83e00000, entry: 0x80000000 });
      const header = await guestBytes('fw-layout', 0x83e00000, 40);
      expect(header.readUInt32BE(0)).toBe(0xd00dfeed);
      const dtb = await guestBytes('fw-layout', 0x83e00000, header.readUInt32BE(4));
      expect(dtb.includes(Buffer.from('console=ttyS0 earlycon=sbi\0'))).toBe(true);
      expect(dtb.includes(Buffer.from('/soc/serial@10000000\0'))).toBe(true);
    } finally {
      await runCli(['destroy', 'fw-layout'], { env });
    }
  });

  it('gives an image-only VM a device tree too, at the top of its RAM', async () => {
    const f = vmFile('img-dtb', `name: img-dtb\nmemory: 16M\nimage: ${join(REPO_ROOT, 'guests/hello/hello.elf')}\n`);
    expect((await runCli(['create', f], { env })).code).toBe(0);
    try {
      expect(loadedAt('img-dtb')).toEqual({ dtb: 0x80e00000, entry: 0x80000000 });
      expect((await guestBytes('img-dtb', 0x80e00000, 4)).readUInt32BE(0)).toBe(0xd00dfeed);
    } finally {
      await runCli(['destroy', 'img-dtb'], { env });
    }
  });

  it('refuses firmware: with image:, naming both, and creates nothing', async () => {
    const f = vmFile('both', `name: both\nmemory: 64M\nimage: ${join(REPO_ROOT, 'guests/hello/hello.elf')}\nfirmware: x.bin\n`);
    const r = await runCli(['run', f], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/both.yaml: firmware: cannot be combined with image:/);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT/);
  });

  it('names a missing firmware file as the firmware', async () => {
    const r = await runCli(['run', vmFile('nofw', 'name: nofw\nmemory: 64M\nfirmware: ./absent-fw.bin\n')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/firmware \S*absent-fw.bin: no such file/);
  });

  it('examples/uboot.yaml loads Debian fw_jump.bin and u-boot.bin (fetched by scripts/fetch-firmware.sh)', async ({ skip }) => {
    // Fails when the firmware cannot be had; SPLITVISOR_ALLOW_NO_FIRMWARE=1 skips with the reason.
    requireFirmware(skip);
    const fw = FIRMWARE.fwJump;
    const ub = FIRMWARE.uboot;
    const c = await runCli(['create', 'examples/uboot.yaml'], { env });
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    try {
      const fwBytes = readFileSync(fw);
      const ubBytes = readFileSync(ub);
      expect((await guestBytes('uboot', 0x80000000, fwBytes.length)).equals(fwBytes)).toBe(true);
      expect((await guestBytes('uboot', 0x80200000, ubBytes.length)).equals(ubBytes)).toBe(true);
      // QEMU 7.2 -m 256M: fdt at 0x8fe00000.
      expect(loadedAt('uboot')).toEqual({ dtb: 0x8fe00000, entry: 0x80000000 });
    } finally {
      await runCli(['destroy', 'uboot'], { env });
    }
  });
});
