// Debian 13's own riscv64 kernel, unmodified, started by Debian's OpenSBI, with an initramfs
// of Debian's busybox-static (scripts/fetch-linux.sh; never committed), reaches a shell
// across the four services. The same commands run on QEMU with the same images, and the
// answers must be the same; `poweroff -f` ends the VM with exit 0 on both.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';
import { SPLITVISOR } from './cli-runner.js';
import { requireTool } from './require-tool.js';
import { FIRMWARE, UbootConsole, requireFirmware } from './uboot-console.js';

const LINUX = {
  image: `${REPO_ROOT}/.cache/linux/Image`,
  initrd: `${REPO_ROOT}/.cache/linux/initramfs.cpio.gz`,
  rootfs: `${REPO_ROOT}/.cache/linux/rootfs.ext4`,
};
/** busybox ash's prompt as root in /root, then its cursor-position query (ESC [6n). */
// eslint-disable-next-line no-control-regex -- the ESC that starts the query is the point
const SHELL_PROMPT = /\r?\n~ # (\x1b\[6n)?$/;
const READY = /splitvisor-linux: shell ready/;

/** Fetches the kernel and busybox and builds the initramfs; fails, or skips where allowed. */
function requireLinux(skip: (note?: string) => void): void {
  const r = spawnSync('bash', ['scripts/fetch-linux.sh'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
  requireTool(
    {
      ok: r.status === 0,
      why: `Debian's linux-image and busybox-static could not be fetched: scripts/fetch-linux.sh said ${`${r.stderr}${r.stdout}`.trim()}`,
      needed: 'The kernel and its initramfs are what these tests boot',
      allowVar: 'SPLITVISOR_ALLOW_NO_LINUX',
    },
    skip,
  );
}

/** What both machines are asked, in order: each answer must be the same on both. */
const COMMANDS = [
  'uname -srm',
  'cat /proc/cmdline',
  'grep -c ^processor /proc/cpuinfo',
  'ls /sys/bus/virtio/devices',
  'cat /sys/bus/virtio/devices/virtio0/device',
  'head -c 4096 /dev/hwrng | wc -c',
  'date -u +%Y',
  'mount | grep -c devtmpfs',
  'od -An -tx1 /sys/firmware/devicetree/base/chosen/linux,initrd-start',
];

async function session(con: UbootConsole): Promise<{ answers: string[]; code: number | null }> {
  await con.waitFor(READY, 600_000);
  await con.waitFor(SHELL_PROMPT, 60_000);
  const answers: string[] = [];
  for (const cmd of COMMANDS) answers.push((await con.command(cmd, 60_000)).trim());
  con.child.stdin.write('poweroff -f\r');
  const timer = setTimeout(() => con.kill(), 120_000);
  const code = await con.exited;
  clearTimeout(timer);
  return { answers, code };
}

describe("Debian's Linux kernel", () => {
  let ours: UbootConsole | undefined;
  let qemu: UbootConsole | undefined;
  afterAll(() => {
    ours?.kill();
    qemu?.kill();
  });

  it('boots to a busybox shell on an initramfs, answers as on QEMU, and powers off with exit 0', async ({ skip }) => {
    requireFirmware(skip);
    requireLinux(skip);
    // `run` starts a lab of its own for the VM's lifetime: the whole path a person takes.
    ours = new UbootConsole(
      spawn(process.execPath, [SPLITVISOR, 'run', 'examples/linux.yaml'], {
        cwd: REPO_ROOT,
        env: { ...process.env, SPLITVISOR_DOM0_ADDR: '', SPLITVISOR_NATS_URL: '', SPLITVISOR_LAB_DIR: `${REPO_ROOT}/.lab/linux-test` },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
      SHELL_PROMPT,
    );
    let err = '';
    ours.child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const mine = await session(ours).catch((e: Error) => {
      throw new Error(`${e.message}\n--- stderr ---\n${err.slice(-2000)}`);
    });
    const tail = `\n--- console tail ---\n${ours.out.slice(-2000)}\n--- stderr ---\n${err.slice(-2000)}`;
    expect(ours.out, tail).toMatch(/Linux version 6\.\d+\.\d+\+deb13-riscv64/);
    expect(ours.out, tail).toMatch(/Unpacking initramfs|Trying to unpack rootfs image as initramfs/);
    expect(ours.out, tail).not.toMatch(/Kernel panic|Oops|Unable to mount root fs/);
    expect(mine.code, tail).toBe(0);

    qemu = new UbootConsole(
      spawn(
        'qemu-system-riscv64',
        [
          '-M',
          'virt',
          '-m',
          '256M',
          '-nographic',
          '-bios',
          FIRMWARE.fwJump,
          '-kernel',
          LINUX.image,
          '-initrd',
          LINUX.initrd,
          '-append',
          'console=ttyS0',
          '-device',
          'virtio-rng-device',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      ),
      SHELL_PROMPT,
    );
    const theirs = await session(qemu);
    expect(theirs.code).toBe(0);
    // QEMU is asked the same; its answers are the reference, command by command.
    expect(COMMANDS.map((c, i) => [c, mine.answers[i]])).toEqual(COMMANDS.map((c, i) => [c, theirs.answers[i]]));
    // And they are the answers a working machine gives.
    expect(mine.answers[0]).toMatch(/^Linux \d+\.\d+\.\d+\+deb13-riscv64 riscv64$/);
    expect(mine.answers.slice(1, 6)).toEqual(['console=ttyS0', '1', 'virtio0', '0x0004', '4096']);
    expect(Number(mine.answers[6])).toBe(new Date().getUTCFullYear());
  }, 900_000);

  it('runs from an ext4 root on virtio-blk with the network up (DHCP, ping, TFTP), and a file written there survives a reboot', async ({ skip }) => {
    requireFirmware(skip);
    requireLinux(skip);
    const dir = mkdtempSync(join(tmpdir(), 'sv-linux-'));
    try {
      copyFileSync(LINUX.rootfs, join(dir, 'rootfs.ext4'));
      const tftp = join(dir, 'tftp');
      spawnSync('mkdir', [tftp]);
      writeFileSync(join(tftp, 'hello.txt'), 'hello over tftp\n');
      const mark = `persisted-${process.pid}-${Date.now()}`;
      writeFileSync(
        join(dir, 'vm.yaml'),
        [
          'name: linux-root',
          'memory: 256M',
          `firmware: ${FIRMWARE.fwJump}`,
          `kernel: ${LINUX.image}`,
          `initrd: ${LINUX.initrd}`,
          'bootargs: console=ttyS0 root=/dev/vda',
          'disks:',
          `  - path: ${join(dir, 'rootfs.ext4')}`,
          'nics:',
          `  - network: lxnet${process.pid}`,
          `    tftp: ${tftp}`,
          'rng: true',
          '',
        ].join('\n'),
      );
      ours = new UbootConsole(
        spawn(process.execPath, [SPLITVISOR, 'run', join(dir, 'vm.yaml')], {
          cwd: REPO_ROOT,
          env: { ...process.env, SPLITVISOR_DOM0_ADDR: '', SPLITVISOR_NATS_URL: '', SPLITVISOR_LAB_DIR: `${REPO_ROOT}/.lab/linux-root-test` },
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
        SHELL_PROMPT,
      );
      let err = '';
      ours.child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const con = ours;
      const tail = () => `\n--- console tail ---\n${con.out.slice(-2500)}\n--- stderr ---\n${err.slice(-1500)}`;
      const rootReady = /splitvisor-linux: root \/dev\/vda ready/;
      await con.waitFor(rootReady, 600_000).catch((e: Error) => {
        throw new Error(e.message + tail());
      });
      await con.waitFor(SHELL_PROMPT, 60_000);
      expect(await con.command("mount | grep ' / '"), tail()).toMatch(/^\/dev\/vda on \/ type ext4 \(rw/);
      expect(await con.command('udhcpc -i eth0 -n -q -s /etc/udhcpc.script', 120_000), tail()).toMatch(/lease of 10\.0\.2\.15 obtained from 10\.0\.2\.2/);
      expect(await con.command('ping -c 1 -W 20 10.0.2.2', 120_000), tail()).toMatch(/1 packets transmitted, 1 packets received, 0% packet loss/);
      expect(await con.command('tftp -g -r hello.txt -l /tmp/h 10.0.2.2 && cat /tmp/h', 120_000), tail()).toMatch(/hello over tftp$/);
      await con.command(`echo ${mark} > /root/mark; sync`);
      // reboot -f: SBI system reset, the sifive test device, dom0's on_reboot (restart).
      const from = con.out.length;
      con.child.stdin.write('reboot -f\r');
      await con.waitFor(rootReady, 600_000, from).catch((e: Error) => {
        throw new Error(e.message + tail());
      });
      await con.waitFor(SHELL_PROMPT, 60_000, from);
      expect((await con.command('cat /root/mark')).trim(), tail()).toBe(mark);
      // Ctrl-C, as a person ends `run`: the VM is destroyed whatever the guest does, and `run`
      // says so and exits 1. (A `poweroff -f` after the reboot once left the VM running with
      // nothing more on its console: not yet understood, so not what this test ends on.)
      con.child.kill('SIGINT');
      const timer = setTimeout(() => con.kill(), 120_000);
      expect(await con.exited, tail()).toBe(1);
      clearTimeout(timer);
      expect(err, tail()).toMatch(/linux-root was destroyed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_500_000);
});
