// The questions Debian's U-Boot is put through on a virtio disk and NIC, and what it must
// answer: shared by virtio-uboot.spec (Splitvisor's modes and QEMU) and compose-lab.spec
// (the same session in the compose lab, files uploaded from the host CLI).
import { expect } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { makeFatDisk, type UbootConsole } from './uboot-console.js';

export const MAC = '52:54:00:12:34:56';

/** Deterministic bytes (a xorshift stream), so a failure can be reproduced byte for byte. */
function pseudoRandom(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export const hello = Buffer.from('Hello from a FAT file system, over virtio-blk.\n');
export const blob = pseudoRandom(200 * 1024 + 123, 7);
export const netFile = pseudoRandom(300 * 1024 + 45, 11);
export const crcHex = (b: Buffer) => (crc32(b) >>> 0).toString(16).padStart(8, '0');

/** What the guest's `fatwrite` leaves in out.bin: 0x5a17c0de, 1024 times. */
export function writtenPattern(): Buffer {
  const pattern = Buffer.alloc(4096);
  for (let i = 0; i < 4096; i += 4) pattern.writeUInt32LE(0x5a17c0de, i);
  return pattern;
}

/** In `dir`: a 16 MiB FAT disk holding hello.txt and blob.bin, and a TFTP directory with net.bin. */
export function makeVirtioFixtures(dir: string): { disk: string; tftpDir: string } {
  const src = join(dir, 'src');
  const tftpDir = join(dir, 'tftp');
  mkdirSync(src, { recursive: true });
  mkdirSync(tftpDir, { recursive: true });
  writeFileSync(join(src, 'hello.txt'), hello);
  writeFileSync(join(src, 'blob.bin'), blob);
  writeFileSync(join(tftpDir, 'net.bin'), netFile);
  const disk = join(dir, 'disk.img');
  makeFatDisk(disk, 16, { 'hello.txt': join(src, 'hello.txt'), 'blob.bin': join(src, 'blob.bin') });
  return { disk, tftpDir };
}

/** The sequence every machine is put through; each answer is kept for the comparison. */
export async function session(c: UbootConsole, bootMs: number): Promise<Record<string, string>> {
  const a: Record<string, string> = {};
  a['boot'] = (await c.boot(bootMs)).replace(/\r/g, '');
  const run = async (key: string, cmd: string, ms?: number) => (a[key] = await c.command(cmd, ms));
  await run('virtio scan', 'virtio scan');
  await run('virtio info', 'virtio info');
  await run('fatls', 'fatls virtio 0');
  await run('load', 'load virtio 0 ${loadaddr} blob.bin', 120_000);
  await run('crc32 disk', 'crc32 ${loadaddr} ${filesize}');
  await run('mw', 'mw.l ${loadaddr} 0x5a17c0de 0x400');
  await run('fatwrite', 'fatwrite virtio 0 ${loadaddr} out.bin 0x1000', 120_000);
  await run('autoload', 'setenv autoload no');
  await run('dhcp', 'dhcp', 120_000);
  await run('ping', 'ping 10.0.2.2', 60_000);
  await run('tftpboot', 'tftpboot ${loadaddr} net.bin', 180_000);
  await run('crc32 net', 'crc32 ${loadaddr} ${filesize}');
  return a;
}

/** The answers a session on makeVirtioFixtures' disk and TFTP directory must give. */
export function expectVirtioAnswers(a: Record<string, string>): void {
  expect(a['virtio info']).toMatch(/Device 0: QEMU VirtIO Block Device/);
  expect(a['virtio info']).toMatch(/Capacity: 16\.0 MB = 0\.0 GB \(32768 x 512\)/);
  expect(a['fatls']).toMatch(new RegExp(`^\\s+${hello.length}\\s+hello\\.txt$`, 'm'));
  expect(a['fatls']).toMatch(new RegExp(`^\\s+${blob.length}\\s+blob\\.bin$`, 'm'));
  expect(a['fatls']).toMatch(/2 file\(s\), 0 dir\(s\)/);
  expect(a['load']).toMatch(new RegExp(`^${blob.length} bytes read in \\d+ ms`, 'm'));
  expect(a['crc32 disk']).toMatch(new RegExp(`==> ${crcHex(blob)}$`, 'm'));
  expect(a['fatwrite']).toMatch(/^4096 bytes written in \d+ ms/m);
  expect(a['dhcp']).toMatch(/DHCP client bound to address 10\.0\.2\.15/);
  expect(a['ping']).toMatch(/host 10\.0\.2\.2 is alive/);
  expect(a['tftpboot']).toMatch(/TFTP from server 10\.0\.2\.2; our IP address is 10\.0\.2\.15/);
  expect(a['tftpboot']).toMatch(new RegExp(`Bytes transferred = ${netFile.length} \\(${netFile.length.toString(16)} hex\\)`));
  expect(a['crc32 net']).toMatch(new RegExp(`==> ${crcHex(netFile)}$`, 'm'));
}
