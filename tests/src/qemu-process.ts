// QEMU as a child process whose console goes to a pipe, not to the socketpair node gives a
// child for 'pipe' stdio. QEMU 7.2's 16550 writes one byte per write(2) and drops the byte
// after MAX_XMIT_RETRY (4) failed writes (hw/char/serial.c, serial_xmit). Each one-byte
// write on an AF_UNIX stream socket costs a whole buffer's worth of accounting, so a few
// hundred unread bytes fill it: on a loaded machine QEMU lost bytes of the reference console
// (CI saw "0x00000080007000" for "0x0000000080007000", three tries in a row). A pipe merges
// small writes into its pages and holds 64 KiB of them, more than any console here prints
// between two reads.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export const QEMU = 'qemu-system-riscv64';

/**
 * Spawns `qemu-system-riscv64 args` with stdin and stderr as usual and stdout through a FIFO
 * read by this process. The FIFO's name is gone once both ends are open. `stdout` ends when
 * QEMU (and whatever it spawned) has closed the write end, so a reader that waits for the
 * process's 'exit' and for stdout's 'close' has every byte (ConsoleProcess does).
 */
export function spawnQemu(args: readonly string[]): ChildProcessWithoutNullStreams {
  const dir = mkdtempSync(join(tmpdir(), 'qemu-console-'));
  let readFd: number | undefined;
  let writeFd: number | undefined;
  try {
    const fifo = join(dir, 'console');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    // The reader first, non-blocking, so opening the writer does not wait for one.
    readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    writeFd = openSync(fifo, constants.O_WRONLY);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let child;
  try {
    child = spawn(QEMU, args, { stdio: ['pipe', writeFd, 'pipe'] });
  } finally {
    closeSync(writeFd); // the child holds its own copy; ours would keep the pipe from ending
  }
  const stdout = new Socket({ fd: readFd, readable: true, writable: false });
  Object.defineProperty(child, 'stdout', { value: stdout, enumerable: true });
  return child as ChildProcessWithoutNullStreams;
}
