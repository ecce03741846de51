// The UART read shadow (issue 17, speed 1) against QEMU 7.2: guests/uart-poll reads every
// UART register in the states the shadow treats differently (reset, set up, THR-empty
// pending, DLAB, loopback) twice over, so that on Splitvisor a read after the first may be
// served from the vCPU's shadow, and prints what it read; then it reads a line typed while
// it polls LSR. Both machines must print the same, the line must arrive intact and in
// order, and Splitvisor must have served loads from the shadow (`splitvisor stats`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT, startTestLab, type TestLab } from '@splitvisor/testing';
import { configDir, labEnv, runCli, spawnCli } from './cli-runner.js';
import { ConsoleProcess } from './console-process.js';
import { spawnQemu } from './qemu-process.js';
import { elfOf, qemuArgs, requireQemu } from './qemu-runner.js';

/** What guests/uart-poll reads, as QEMU 7.2 gives it (see the guest's header for the steps). */
const REGISTERS =
  'reset:     0x00 0x00 0x01 0x00 0x08 0x60 0xb0 0x00 0x60 0x00 0xb0\r\n' +
  'set up:    0x00 0x05 0xc1 0x03 0x0b 0x60 0xb0 0x5a 0x05 0x03 0x0b 0x60 0xb0 0x5a\r\n' +
  'THR-empty: 0xc2 0xc1 0x07\r\n' +
  'DLAB:      0x01 0x02 0x01 0x02 0x83 0x03 0x05 0x00\r\n' +
  'loopback:  0xb0 0x60 0x61 0x61 0x4c 0x60 0x00\r\n' +
  "type a line ending in '.'\r\n";
/** Typed in two bursts while the guest polls LSR for each byte. */
const LINE = ['the quick brown fox, ', 'typed while LSR is polled 0123456789.'];
const CONSOLE = `${REGISTERS}got: ${LINE.join('')}\r\nq to quit\r\n`;
const TIMEOUT_MS = 30_000;

/** Runs the guest to its "q to quit", typing the line; `atQuit` runs before the 'q'. */
async function drive(m: ConsoleProcess, atQuit: () => Promise<void> = () => Promise.resolve()): Promise<{ console: string; exit: number | null }> {
  try {
    await m.waitFor(/type a line ending in '\.'\r\n/, TIMEOUT_MS);
    m.type(LINE[0]!);
    await sleep(200);
    m.type(LINE[1]!);
    await m.waitFor(/q to quit\r\n/, TIMEOUT_MS);
    const console = m.out;
    await atQuit();
    m.type('q');
    await m.waitFor(/bye\r\n/, TIMEOUT_MS);
    return { console, exit: await m.exited };
  } finally {
    m.kill();
  }
}

describe('UART read shadow: registers read from the shadow as QEMU reads them', () => {
  let t: TestLab;
  let env: Record<string, string>;
  const { vmFile } = configDir('sv-uart-shadow-');

  beforeAll(async () => {
    t = await startTestLab();
    env = labEnv(t);
  }, 60_000);
  afterAll(async () => {
    await t?.teardown();
  });

  it(
    'guests/uart-poll prints the same registers and the typed line on both, and Splitvisor served loads from the shadow',
    async ({ skip }) => {
      requireQemu(skip);
      const qemu = await drive(new ConsoleProcess(spawnQemu(qemuArgs(elfOf('uart-poll'), []))));
      expect(qemu.console, "QEMU's console").toBe(CONSOLE);
      expect(qemu.exit).toBe(0);

      const name = 'uart-poll';
      const config = vmFile(name, `name: ${name}\nmemory: 64M\nimage: ${join(REPO_ROOT, elfOf('uart-poll'))}\n`);
      let stats: { cpu: { exits: { reason: string; count: number }[]; devices: { device: string; reads: number; shadowed: number }[] } } | undefined;
      const ours = await drive(new ConsoleProcess(spawnCli(['run', config], { env })), async () => {
        const r = await runCli(['stats', name], { env });
        expect(r.code, r.stderr).toBe(0);
        stats = JSON.parse(r.stdout) as typeof stats;
      });
      expect(ours.console, "Splitvisor's console against QEMU's").toBe(qemu.console);
      expect(ours.exit).toBe(0);

      const shadowed = stats!.cpu.exits.find((e) => e.reason === 'mmio-shadowed')!.count;
      const serial = stats!.cpu.devices.find((d) => d.device === 'serial@0x10000000')!;
      expect(shadowed, 'loads served from the read shadow').toBeGreaterThan(0);
      // Read while the guest runs: the device row and the reason row may be a few loads apart.
      expect(serial.shadowed).toBeGreaterThan(0);
      expect(Math.abs(serial.shadowed - shadowed)).toBeLessThan(shadowed / 100);
      // The guest polls LSR in a loop while it waits for the line and for the 'q': those
      // polls are the shadow's, so they outnumber the UART's read exits.
      expect(serial.shadowed).toBeGreaterThan(serial.reads);
      // Waiting for the 'q', the guest spins on LSR: the vCPU idles in that loop (poll-idle.ts)
      // and a revoke wakes it, so the typed line above came through it intact.
      expect(stats!.cpu.exits.find((e) => e.reason === 'poll-idle')!.count, 'poll-loop idles').toBeGreaterThan(0);
      // Each burst of input was applied after the cpu answered its revoke, not after a timeout.
      expect(t.lines.filter((l) => /read shadow revoke unanswered/.test(l.line))).toEqual([]);
    },
    2 * TIMEOUT_MS + 30_000,
  );

  it(
    'with every revoke dropped (fault shadow:<vm>), input still arrives intact and in order, after the timeout',
    async () => {
      const name = 'uart-poll-cut';
      const add = await runCli(['fault', 'add', `shadow:${name}`, 'drop', '1', '--for', '60s'], { env });
      expect(add.code, add.stderr).toBe(0);
      try {
        const config = vmFile(name, `name: ${name}\nmemory: 64M\nimage: ${join(REPO_ROOT, elfOf('uart-poll'))}\n`);
        const ours = await drive(new ConsoleProcess(spawnCli(['run', config], { env })));
        expect(ours.console).toBe(CONSOLE);
        expect(ours.exit).toBe(0);
        // io-backend asked, heard nothing, and applied the input once the grant had expired.
        expect(t.lines.some((l) => l.service === 'io-backend' && /read shadow revoke unanswered/.test(l.line))).toBe(true);
      } finally {
        await runCli(['fault', 'clear'], { env });
      }
    },
    TIMEOUT_MS + 30_000,
  );
});
