// U-Boot's console for the benches, whatever carries it: QEMU's stdio or Splitvisor's console
// subjects. The bytes come in through feed(), keys go out through the `send` given; what it
// does with them is tests/src/uboot-console.ts's way (wait for the prompt, type, read up to
// the next prompt), which a .mjs cannot import (it is TS, on @splitvisor/testing).
import { spawn } from 'node:child_process';
import { ConsoleInputCodec, ConsoleOutputCodec } from '@splitvisor/proto';
import { streams, subjects } from '@splitvisor/bus';

const PROMPT = /\r?\n=> $/;

export class BenchConsole {
  out = '';
  #waiter;
  #failed;

  /** `send(text)` types on the console. */
  constructor(send) {
    this.send = send;
  }

  #listeners = new Set();

  feed(text) {
    this.out += text;
    for (const l of this.#listeners) l(text, performance.now());
    this.#waiter?.();
  }

  /** Calls `cb(text, now)` with each piece of output as it arrives; returns what stops it. */
  listen(cb) {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** The machine behind the console is gone: the wait in progress, and any later, fail. */
  fail(error) {
    this.#failed ??= error;
    this.#waiter?.();
  }

  /** Resolves once `re` matches the output after `from`. */
  waitFor(re, timeoutMs, from = 0) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no ${re} on the console within ${timeoutMs} ms; tail:\n${this.out.slice(-1500)}`));
      }, timeoutMs);
      this.#waiter = () => {
        if (this.#failed) {
          clearTimeout(timer);
          this.#waiter = undefined;
          return reject(this.#failed);
        }
        if (!re.test(this.out.slice(from))) return;
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(this.out.slice(from));
      };
      this.#waiter();
    });
  }

  /** Stops autoboot at the first chance and waits for the prompt. */
  async boot(timeoutMs) {
    await this.waitFor(/Hit any key to stop autoboot/, timeoutMs);
    this.send(' ');
    await this.waitFor(PROMPT, 30_000);
  }

  /** Types `cmd`; its output up to the next prompt ('\r' dropped), the wall time it took, and
   *  how many bytes of console output that was (the echo included, the prompt not). */
  async command(cmd, timeoutMs = 180_000) {
    const from = this.out.length;
    const t0 = performance.now();
    this.send(`${cmd}\r`);
    const text = await this.waitFor(PROMPT, timeoutMs, from);
    const ms = performance.now() - t0;
    const raw = text.replace(PROMPT, '');
    const body = raw.replace(/\r/g, '');
    const echo = body.indexOf(`${cmd}\n`);
    return { text: echo >= 0 ? body.slice(echo + cmd.length + 1) : body, ms, bytes: raw.length };
  }
}

/**
 * U-Boot's own account of a transfer: `load` prints `16777216 bytes read in 163 ms (98.2
 * MiB/s)`, `tftpboot` a rate line (`\t 1.2 MiB/s`) then `Bytes transferred = 8388608 (800000
 * hex)`. `{ bytes, ms?, rate? }` (rate as U-Boot wrote it), or undefined when neither is there.
 */
export function parseTransfer(text) {
  const load = /(\d+) bytes read in (\d+) ms(?: \(([\d.]+ [KMG]?i?B\/s)\))?/.exec(text);
  if (load) return { bytes: Number(load[1]), ms: Number(load[2]), rate: load[3] };
  const tftp = /Bytes transferred = (\d+)/.exec(text);
  if (tftp) return { bytes: Number(tftp[1]), rate: /^\s*([\d.]+ [KMG]?i?B\/s)\s*$/m.exec(text)?.[1] };
  return undefined;
}

/** QEMU's virt machine with U-Boot, a virtio disk and a user-mode NIC serving `tftpDir`.
 *  If QEMU cannot start or exits, the console's waits fail saying so. */
export function startQemu({ fwJump, uboot, disk, tftpDir, mac }) {
  const args = ['-M', 'virt', '-m', '256M', '-nographic', '-bios', fwJump, '-kernel', uboot];
  args.push('-drive', `file=${disk},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0');
  args.push('-netdev', `user,id=n0,tftp=${tftpDir}`, '-device', `virtio-net-device,netdev=n0,mac=${mac}`);
  return spawnQemu(args);
}

/** QEMU's virt machine running a bare-metal M-mode `elf` (guests/*), no firmware: as a
 *  Splitvisor VM with `image:` runs it. */
export function startQemuGuest({ elf, memory = '64M' }) {
  return spawnQemu(['-M', 'virt', '-m', memory, '-nographic', '-bios', 'none', '-kernel', elf]);
}

/** qemu-system-riscv64 with `args`, its serial console on stdio as a BenchConsole. */
function spawnQemu(args) {
  const child = spawn('qemu-system-riscv64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const c = new BenchConsole((s) => child.stdin.write(s));
  let stderr = '';
  let stopped = false;
  child.stdout.on('data', (b) => c.feed(b.toString('latin1')));
  child.stderr.on('data', (b) => (stderr += b.toString()));
  child.stdin.on('error', () => {});
  child.on('error', (e) => c.fail(new Error(`qemu-system-riscv64: ${e.message}`)));
  child.on('exit', (code, signal) => {
    if (!stopped) c.fail(new Error(`qemu-system-riscv64 exited (code ${code}, signal ${signal}): ${stderr.trim().slice(-500)}`));
  });
  return {
    console: c,
    pid: child.pid,
    stop: () => {
      stopped = true;
      child.kill('SIGKILL');
    },
  };
}

/** VM `vm`'s console in a lab, from its first byte (the console stream is replayed). */
export async function vmConsole(bus, vm) {
  const c = new BenchConsole((s) => bus.publish(subjects.consoleIn(vm), ConsoleInputCodec, { vmId: vm, data: Buffer.from(s) }));
  const stop = await bus.replay(streams.console, subjects.consoleOut(vm), ConsoleOutputCodec, (m) => c.feed(Buffer.from(m.data).toString('latin1')));
  return { console: c, stop };
}
