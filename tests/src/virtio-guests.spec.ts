// Our own virtio drivers against a real virtio device, whole system, on one lab: io-backend
// plugs virtio-rng into slot 7 (`rng: true`) and DMAs through mmu.
//
// guests/virtio-irq takes completions as interrupts: io-backend's transport raises its line (published like irqfd), the
// cpu's PLIC follows it, the guest's handler claims source 8, reads InterruptStatus, ACKs it
// (an MMIO exit back to io-backend, which drops the line) and completes the claim. Three
// rounds, each woken from WFI by the interrupt alone; the guest fails on a 1 s deadline.
//
// The ACK drops the line inside its access, as in QEMU: the line changes an MMIO access
// causes travel back in its reply (MmioReply.irq_lines) and reach the PLIC before the guest's
// next instruction. Before that, the reply (gRPC) often beat the line-low event (NATS), the
// guest's complete found source 8 still high and the PLIC re-pended it ("pending=1",
// "spurious interrupts: 1") in about half the runs.
//
// guests/virtio-hostile breaks the rings and registers one way after another. Each break
// must end in DEVICE_NEEDS_RESET or a refusal, logged by io-backend with its reason; no
// service may fall over, and the same lab must run an honest guest afterwards (so this
// describe runs last).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLab, REPO_ROOT, type TestLab } from '@splitvisor/testing';
import { checkHealth } from '@splitvisor/rpc';
import { HELLO_CONSOLE, VIRTIO_HOSTILE_CONSOLE, VIRTIO_IRQ_CONSOLE } from './guest-expectations.js';
import { configDir, labEnv, runCli } from './cli-runner.js';

let t: TestLab;
let env: Record<string, string>;
const { vmFile } = configDir('sv-virtio-guests-');

beforeAll(async () => {
  t = await startTestLab();
  env = labEnv(t);
}, 60_000);
afterAll(async () => {
  await t?.teardown();
});

/** io-backend's log lines from `from` on, as they were printed. */
const ioLines = (from: number): string[] =>
  t.lines
    .slice(from)
    .filter((l) => l.service === 'io-backend')
    .map((l) => l.line);

describe('virtio devices that cannot be made', () => {
  it('refuses a VM whose disk image or TFTP directory is missing, naming the device and the path, and creates nothing', async () => {
    const disk = vmFile('nodisk', `name: nodisk\nmemory: 16M\nimage: ${REPO_ROOT}/guests/hello/hello.elf\ndisks:\n  - /nonexistent/disk.img\n`);
    const r = await runCli(['run', disk], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('virtio-blk0: /nonexistent/disk.img: no such file or directory');
    const net = vmFile(
      'notftp',
      `name: notftp\nmemory: 16M\nimage: ${REPO_ROOT}/guests/hello/hello.elf\nnics:\n  - tftp: ${REPO_ROOT}/guests/hello/hello.elf\n`,
    );
    const r2 = await runCli(['run', net], { env });
    expect(r2.code).not.toBe(0);
    // The CLI finds it before anything is sent (the directory is uploaded from this host).
    expect(r2.stderr).toContain(`virtio-net0 tftp ${REPO_ROOT}/guests/hello/hello.elf: is not a directory`);
    expect(r2.stderr).toContain('nics[0].tftp');
    const list = await runCli(['list', '--json'], { env });
    expect(list.stdout).not.toMatch(/nodisk|notftp/);
  }, 60_000);
});

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

describe('a hostile virtio driver (guests/virtio-hostile) against virtio-rng', () => {
  it('gets DEVICE_NEEDS_RESET or a refusal for every broken ring, the honest request before and after, and exit 0', async () => {
    const from = t.lines.length;
    const f = vmFile('hostile', `name: hostile\nmemory: 64M\nimage: ${REPO_ROOT}/guests/virtio-hostile/virtio-hostile.bin\nrng: true\n`);
    const r = await runCli(['run', f], { env, timeoutMs: 60_000 });
    expect(r.stdout).toBe(VIRTIO_HOSTILE_CONSOLE);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    // Each refusal is io-backend's warning with the transport's reason, in the guest's order.
    const io = ioLines(from);
    const reasons = [
      /device needs reset: .*queue 0: chain from head 0 comes back to descriptor 0 \(a loop\)/, // (a)
      /device needs reset: .*DMA write by .*io-backend.* \[0x400000000000, 0x400000000010\) lies outside RAM/, // (b)
      /device needs reset: .*avail\.idx 100 is 100 entries ahead of the device's 0, more than the queue size 8/, // (c)
      /QueueNum 6 on queue 0: queue size 6 is not a power of two; QueueReady will be refused/, // (d)
      /QueueReady=1 on queue 0 refused: queue size 6 is not a power of two/, // (d)
      /QueueNotify 0x3 ignored: queue 3 does not exist \(1 queues\)/, // (e)
    ];
    let at = 0;
    for (const re of reasons) {
      const i = io.findIndex((l, k) => k >= at && re.test(l));
      expect(i, `io-backend logged ${re} after the previous refusal; io-backend said:\n${io.join('\n')}`).toBeGreaterThanOrEqual(0);
      at = i + 1;
    }
    // Poweroff unplugs the device; its counters say what the transport saw. Three requests
    // reached the device: the two honest ones (16 bytes each) and (b), whose write failed.
    const unplugged = io.find((l) => l.includes('virtio device unplugged'));
    expect(unplugged, io.join('\n')).toBeDefined();
    const stats = (JSON.parse(unplugged!) as { stats: { counters: Record<string, number>; lastError: string } }).stats;
    expect(stats.counters).toMatchObject({ 'transport.needsReset': 3, 'transport.ignoredNotifies': 1, requests: 3, bytes: 32, failedRequests: 0 });
    expect(stats.counters['transport.resets']).toBeGreaterThanOrEqual(7);
  }, 90_000);

  it('leaves every service up: all four SERVING, nothing crashed, and an honest guest runs on the same lab', async () => {
    for (const [name, p] of t.lab.services) {
      expect({ name, exitCode: p.child.exitCode, signal: p.child.signalCode }).toEqual({ name, exitCode: null, signal: null });
      expect(await checkHealth(p.address), name).toBe('SERVING');
    }
    const r = await runCli(['run', vmFile('after', `name: after\nmemory: 4M\nimage: ${REPO_ROOT}/guests/hello/hello.elf\n`)], { env });
    expect(r.stdout).toBe(HELLO_CONSOLE);
    expect(r.code).toBe(0);
    const crash = t.lines.filter((l) => /uncaught|unhandled|fatal|panic|exited \(code/i.test(l.line));
    expect(crash).toEqual([]);
  }, 60_000);
});
