// U-Boot's console for the benches, whatever carries it: QEMU's stdio or Splitvisor's console
// subjects. The bytes come in through feed(), keys go out through the `send` given; what it
// does with them is tests/src/uboot-console.ts's way (wait for the prompt, type, read up to
// the next prompt), which a .mjs cannot import (it is TS, on @splitvisor/testing).
import { spawn } from 'node:child_process';

const PROMPT = /\r?\n=> $/;

export class BenchConsole {
  out = '';
  #waiter;

  /** `send(text)` types on the console. */
  constructor(send) {
    this.send = send;
  }

  feed(text) {
    this.out += text;
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

  /** Types `cmd`; its output up to the next prompt ('\r' dropped) and the wall time it took. */
  async command(cmd, timeoutMs = 180_000) {
    const from = this.out.length;
    const t0 = performance.now();
    this.send(`${cmd}\r`);
    const text = await this.waitFor(PROMPT, timeoutMs, from);
    const ms = performance.now() - t0;
    const body = text.replace(PROMPT, '').replace(/\r/g, '');
    const echo = body.indexOf(`${cmd}\n`);
    return { text: echo >= 0 ? body.slice(echo + cmd.length + 1) : body, ms };
  }
}

/** QEMU's virt machine with U-Boot, a virtio disk and a user-mode NIC serving `tftpDir`. */
export function startQemu({ fwJump, uboot, disk, tftpDir, mac }) {
  const args = ['-M', 'virt', '-m', '256M', '-nographic', '-bios', fwJump, '-kernel', uboot];
  args.push('-drive', `file=${disk},format=raw,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0');
  args.push('-netdev', `user,id=n0,tftp=${tftpDir}`, '-device', `virtio-net-device,netdev=n0,mac=${mac}`);
  const child = spawn('qemu-system-riscv64', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const c = new BenchConsole((s) => child.stdin.write(s));
  child.stdout.on('data', (b) => c.feed(b.toString('latin1')));
  return { console: c, stop: () => child.kill('SIGKILL') };
}
