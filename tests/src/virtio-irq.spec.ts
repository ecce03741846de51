// virtio completions as interrupts, whole system: guests/virtio-irq runs on `splitvisor run`
// with `rng: true`. io-backend's transport raises its line (published like irqfd), the
// cpu's PLIC follows it, the guest's handler claims source 8, reads InterruptStatus, ACKs it
// (an MMIO exit back to io-backend, which drops the line) and completes the claim. Three
// rounds, each woken from WFI by the interrupt alone; the guest fails on a 1 s deadline.
//
// The ACK drops the line inside its access, as in QEMU: the line changes an MMIO access
// causes travel back in its reply (MmioReply.irq_lines) and reach the PLIC before the guest's
// next instruction. Before that, the reply (gRPC) often beat the line-low event (NATS), the
// guest's complete found source 8 still high and the PLIC re-pended it ("pending=1",
// "spurious interrupts: 1") in about half the runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLab, REPO_ROOT, type TestLab } from '@splitvisor/testing';
import { VIRTIO_IRQ_CONSOLE } from './guest-expectations.js';
import { configDir, labEnv, runCli } from './cli-runner.js';

let t: TestLab;
let env: Record<string, string>;
const { vmFile } = configDir('sv-virtio-irq-');

beforeAll(async () => {
  t = await startTestLab();
  env = labEnv(t);
}, 60_000);
afterAll(async () => {
  await t?.teardown();
});

/** io-backend's log lines from `from` on, as they were printed. */
const ioLines = (from: number): string[] => t.lines.slice(from).filter((l) => l.service === 'io-backend').map((l) => l.line);

describe('virtio completions arrive as interrupts (guests/virtio-irq)', () => {
  it('three used-buffer interrupts through the PLIC, each ACKed with the line low after, and exit 0', async () => {
    const from = t.lines.length;
    const f = vmFile('virtio-irq', `name: virtio-irq\nmemory: 64M\nimage: ${REPO_ROOT}/guests/virtio-irq/virtio-irq.bin\nrng: true\n`);
    const r = await runCli(['run', f], { env, timeoutMs: 60_000 });
    const io = ioLines(from);
    expect(r.stdout, `stderr: ${r.stderr}\nio-backend said:\n${io.join('\n')}`).toBe(VIRTIO_IRQ_CONSOLE);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    // Poweroff unplugs the device; its counters say what the transport did: three requests
    // of 16 bytes, each completion one interrupt, nothing refused.
    const unplugged = io.find((l) => l.includes('virtio device unplugged'));
    expect(unplugged, io.join('\n')).toBeDefined();
    const stats = (JSON.parse(unplugged!) as { stats: { counters: Record<string, number>; lastError: string } }).stats;
    expect(stats.counters).toMatchObject({
      'transport.interrupts': 3,
      'transport.notifies': 3,
      'transport.needsReset': 0,
      'transport.ignoredNotifies': 0,
      requests: 3,
      bytes: 48,
      failedRequests: 0,
    });
    expect(stats.lastError).toBe('');
  }, 90_000);
});
