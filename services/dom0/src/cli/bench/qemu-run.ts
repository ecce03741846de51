// The kernel's suite on QEMU 7.2, the reference column: the same firmware, kernel, disk
// size, memory and boot arguments as the lab's VM (`sync` included, so its host time is
// measured the same way), as
//   qemu-system-riscv64 -M virt -m <M> -nographic -bios fw_jump.bin -kernel kernel.elf
//     -global virtio-mmio.force-legacy=false -drive file=disk,format=raw,if=none,id=d0
//     -device virtio-blk-device,drive=d0 -append "run=bench ... sync"
import { spawn } from 'node:child_process';
import { KERNEL_EXIT_CODES } from './kernel-output.js';
import { BenchRunError, SyncDriver } from './sync-driver.js';
import type { ColumnRun } from './results.js';
import type { GuestSetup } from './lab-run.js';
import { QEMU } from './results.js';

export function qemuArgs(g: GuestSetup): string[] {
  return [
    '-M',
    'virt',
    '-m',
    `${g.memoryMiB}M`,
    '-nographic',
    '-bios',
    g.firmware,
    '-kernel',
    g.kernel,
    '-global',
    'virtio-mmio.force-legacy=false',
    '-drive',
    `file=${g.disk},format=raw,if=none,id=d0`,
    '-device',
    'virtio-blk-device,drive=d0',
    '-append',
    g.bootargs,
  ];
}

export async function runOnQemu(run: number, g: GuestSetup, load: () => string): Promise<ColumnRun> {
  const child = spawn('qemu-system-riscv64', qemuArgs(g), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const driver = new SyncDriver<never>({ column: QEMU, send: (b) => child.stdin.write(b) }, () => child.kill('SIGKILL'));
  child.stdout.on('data', (b: Buffer) => driver.reader.feed(b.toString('latin1')));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, g.timeoutS * 1000);
  const status = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('exit', (code) => resolve({ code }));
  });
  clearTimeout(timer);
  await driver.settled();
  if (status.error) throw new BenchRunError(`qemu: cannot run qemu-system-riscv64 (Debian: apt-get install qemu-system-misc): ${status.error.message}`);
  if (driver.failed) throw driver.failed;
  if (timedOut) throw new BenchRunError(`qemu: no end within --timeout=${g.timeoutS} s, ${driver.where()}; the kernel's last lines:\n${driver.reader.tail()}`);
  if (status.code !== 0 || !driver.finished) {
    const code = status.code === null ? 'killed' : `with code ${status.code}${KERNEL_EXIT_CODES[status.code] ? ` (${KERNEL_EXIT_CODES[status.code]})` : ''}`;
    throw new BenchRunError(
      `qemu: ended ${code}, ${driver.where()}; the kernel's last lines:\n${driver.reader.tail()}${stderr ? `\nqemu: ${stderr.trim()}` : ''}`,
    );
  }
  return { column: QEMU, run, banner: driver.banner, load: load(), benches: driver.samples };
}
