// The proof that Splitvisor is a real machine: Debian's OpenSBI (fw_jump, M-mode) starts
// Debian's U-Boot (qemu-riscv64_smode, S-mode), unmodified, across the four processes, to
// the `=>` prompt; typed commands reach it; `poweroff` ends the VM with code 0. The same
// images are fetched from Debian by scripts/fetch-firmware.sh (never committed).
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '@splitvisor/testing';
import { SPLITVISOR } from './cli-runner.js';
import { requireFirmware } from './uboot-console.js';

describe("Debian's OpenSBI + U-Boot", () => {
  it('boots to the U-Boot prompt, takes typed commands, and powers off cleanly', async ({ skip }) => {
    requireFirmware(skip);
    // `run` starts a lab of its own for the VM's lifetime: the whole path a person takes.
    const child = spawn(process.execPath, [SPLITVISOR, 'run', 'examples/uboot.yaml'], {
      cwd: REPO_ROOT,
      env: { ...process.env, SPLITVISOR_DOM0_ADDR: '', SPLITVISOR_NATS_URL: '', SPLITVISOR_LAB_DIR: `${REPO_ROOT}/.lab/uboot-test` },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const steps: [RegExp, string][] = [
      [/Hit any key to stop autoboot/, ' '], // stop autoboot, as a person would
      [/=> $/, 'version\r'],
      [/GNU ld .*\r?\n=> $/, 'poweroff\r'],
    ];
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      const next = steps[0];
      if (next && next[0].test(out)) {
        child.stdin.write(next[1]);
        steps.shift();
      }
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    const tail = `\n--- console tail ---\n${out.slice(-1500)}\n--- stderr ---\n${err.slice(-1500)}`;
    expect(out, tail).toMatch(/OpenSBI v1\.\d+/);
    expect(out, tail).toMatch(/Boot HART Base ISA\s+: rv64imafdc/);
    expect(out, tail).toMatch(/U-Boot 2023\.01\+dfsg[^\n]*\n/);
    expect(out, tail).toMatch(/DRAM:\s+256 MiB/);
    expect(out, tail).toMatch(/=> version\r?\nU-Boot 2023\.01/);
    expect(out, tail).toMatch(/=> poweroff\r?\npoweroff \.\.\./);
    expect(steps, tail).toHaveLength(0);
    expect(code, tail).toBe(0);
  }, 300_000);
});
