// Talking to U-Boot's console as a person at a serial terminal does: wait for the prompt,
// type a command, read what it printed up to the next prompt. The same driver runs against
// Splitvisor (`splitvisor run`, the console on its stdio) and QEMU (-nographic), so a
// differential test compares their answers command by command.
import { spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawnQemu } from './qemu-process.js';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '@splitvisor/testing';
import { ConsoleProcess } from './console-process.js';
import { requireTool } from './require-tool.js';

export const FIRMWARE = {
  fwJump: `${REPO_ROOT}/.cache/firmware/opensbi/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin`,
  uboot: `${REPO_ROOT}/.cache/firmware/u-boot-qemu/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin`,
};

/** Debian's opensbi and u-boot-qemu in .cache/firmware, fetched if missing. */
export function fetchFirmware(): { ok: true } | { ok: false; why: string } {
  const r = spawnSync('bash', ['scripts/fetch-firmware.sh'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  return r.status === 0 ? { ok: true } : { ok: false, why: `${r.stderr}${r.stdout}`.trim() };
}

/** Fails (or skips, where SPLITVISOR_ALLOW_NO_FIRMWARE=1 allows it) when the firmware cannot be had. */
export function requireFirmware(skip: (note?: string) => void): void {
  const fw = fetchFirmware();
  const said = fw.ok ? '' : fw.why;
  requireTool(
    {
      ok: fw.ok,
      why: `Debian's opensbi/u-boot-qemu could not be fetched: scripts/fetch-firmware.sh said ${said}`,
      needed: 'The firmware is what these tests boot',
      allowVar: 'SPLITVISOR_ALLOW_NO_FIRMWARE',
    },
    skip,
  );
}

const PROMPT = /\r?\n=> $/;

/** U-Boot at a serial terminal (or any console with a prompt): one command at a time. */
export class UbootConsole extends ConsoleProcess {
  /** `prompt`: how the console's prompt ends the output (U-Boot's `=> ` by default). */
  constructor(
    child: ChildProcessWithoutNullStreams,
    private readonly prompt: RegExp = PROMPT,
  ) {
    super(child);
  }

  /** Stops autoboot and waits for the first prompt. */
  async boot(timeoutMs: number): Promise<string> {
    await this.waitFor(/Hit any key to stop autoboot/, timeoutMs);
    this.child.stdin.write(' ');
    return this.waitFor(PROMPT, 30_000);
  }

  /** Types `cmd`, returns what it printed between its echo and the next prompt ('\r' dropped). */
  async command(cmd: string, timeoutMs = 60_000): Promise<string> {
    const from = this.out.length;
    this.child.stdin.write(`${cmd}\r`);
    const text = await this.waitFor(this.prompt, timeoutMs, from);
    const body = text.replace(this.prompt, '').replace(/\r/g, '');
    const echo = body.indexOf(`${cmd}\n`);
    return echo >= 0 ? body.slice(echo + cmd.length + 1) : body;
  }

  /** Types `poweroff` and waits for the process to end. */
  async poweroff(timeoutMs = 60_000): Promise<number | null> {
    this.child.stdin.write('poweroff\r');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** QEMU's virt machine with the same firmware and devices (first -device in the highest slot). */
export function startQemuUboot(opts: { disk?: string; tftpDir?: string; mac?: string }): UbootConsole {
  // QEMU 7.2's virt machine defaults its transports to legacy virtio-mmio (version 1); ours
  // is version 2, so QEMU is asked for the same.
  const args = ['-M', 'virt', '-m', '256M', '-nographic', '-bios', FIRMWARE.fwJump, '-kernel', FIRMWARE.uboot, '-global', 'virtio-mmio.force-legacy=false'];
  if (opts.disk) args.push('-drive', `file=${opts.disk},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0');
  if (opts.tftpDir !== undefined) {
    args.push('-netdev', `user,id=n0,tftp=${opts.tftpDir}`, '-device', `virtio-net-device,netdev=n0${opts.mac ? `,mac=${opts.mac}` : ''}`);
  }
  return new UbootConsole(spawnQemu(args));
}

/**
 * What two machines may print differently for the same work: timings and throughput,
 * TFTP's progress marks (a '#' per so many packets, and marks whose count depends on
 * how the transfer was paced).
 */
export function normalize(text: string): string {
  return text
    .replace(/ in \d+ ms/g, ' in N ms')
    .replace(/\(\d+ ms\)/g, '(N ms)')
    .replace(/\(?\d+(\.\d+)? [KMG]?i?B\/s\)?/g, 'N B/s')
    .replace(/[*#]+/g, '#');
}

/** A FAT image of `sizeMiB` with `files` in its root (Debian's dosfstools and mtools). */
export function makeFatDisk(path: string, sizeMiB: number, files: Record<string, string>): void {
  execFileSync('mkfs.vfat', ['-C', '-n', 'SVDISK', path, String(sizeMiB * 1024)], {
    stdio: 'pipe',
    env: { ...process.env, PATH: `${process.env['PATH']}:/usr/sbin:/sbin` },
  });
  for (const [name, src] of Object.entries(files)) execFileSync('mcopy', ['-i', path, src, `::${name}`], { stdio: 'pipe' });
}

/** One file out of a FAT image. */
export function readFatFile(image: string, name: string): Buffer {
  return execFileSync('mcopy', ['-n', '-i', image, `::${name}`, '-'], { maxBuffer: 64 * 1024 * 1024 });
}
