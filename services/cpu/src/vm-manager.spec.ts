// The cpu's exit path against the real mmu and io-backend processes: the hart runs in a
// worker, its page misses go to mmu and its UART accesses to io-backend over gRPC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConsoleOutputCodec, LifecycleEventCodec, protos, type CpuV1, type EventsV1, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError, deadlineIn } from '@splitvisor/rpc';
import { Bus, streams, subjects } from '@splitvisor/bus';
import { REPO_ROOT, silentLogger, startTestLab, type TestLab } from '@splitvisor/testing';
import { VmManager } from './vm-manager.js';

let t: TestLab;
let bus: Bus;
let mmu: RpcClient<MmuV1.MmuClient>;
let io: RpcClient<IoV1.IoBackendClient>;
let vms: VmManager;

beforeAll(async () => {
  t = await startTestLab({ only: ['mmu', 'io-backend'] });
  bus = await Bus.connect({ url: t.natsUrl, name: 'cpu-test', log: silentLogger() });
  await bus.ensureStreams();
  mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, t.addresses.mmu);
  io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, t.addresses['io-backend']);
  vms = new VmManager({ mmu, io, exitDeadlineMs: 2000, log: silentLogger('cpu'), bus }, bus, silentLogger('cpu'));
});
afterAll(async () => {
  await vms?.stopAll('test over');
  mmu?.close();
  io?.close();
  await bus?.drain();
  await t?.teardown();
});

const RAM = 0x80000000;
const MIB = 1 << 20;

async function prepare(vmId: string, image: string): Promise<void> {
  await mmu.call('CreateVm', { vmId, ramBase: RAM, ramSize: 4 * MIB });
  const data = await readFile(join(REPO_ROOT, image));
  await new Promise<void>((resolve, reject) => {
    const call = mmu.raw.LoadImage(new grpc.Metadata(), { deadline: deadlineIn(5000) }, (err) => (err ? reject(err) : resolve()));
    call.write({ vmId, addr: RAM, data });
    call.end();
  });
  await io.call('AttachVm', { vmId });
}

function startReq(vmId: string, over: Partial<CpuV1.StartVmRequest> = {}): CpuV1.StartVmRequest__Output {
  return { vmId, ramBase: RAM, ramSize: 4 * MIB, entry: RAM, dtbAddr: 0, vcpus: 1, clock: '', ...over } as CpuV1.StartVmRequest__Output;
}

function nextExit(vmId: string): Promise<EventsV1.LifecycleEvent__Output> {
  return new Promise((resolve) => {
    const unsub = bus.subscribe(subjects.lifecycle(vmId, 'cpu'), LifecycleEventCodec, (ev) => {
      if (ev.kind === 'LIFECYCLE_VCPU_EXITED') {
        unsub();
        resolve(ev);
      }
    });
  });
}

describe('vCPU exits over real gRPC', () => {
  it('runs guests/hello: pages from mmu, UART through io-backend, poweroff stops the vCPU', async () => {
    await prepare('hello', 'guests/hello/hello.bin');
    const exited = nextExit('hello');
    vms.start(startReq('hello'));
    const ev = await exited;
    expect(ev).toMatchObject({ source: 'cpu', exitCode: 0, reason: 'poweroff: guest powered off with code 0' });

    const stats = vms.stats('hello');
    expect(stats.running).toBe(false);
    const row = (r: string) => stats.exits.find((e) => e.reason === r)!;
    // One coalesced THR write per banner byte; the LSR read before each is an exit only
    // until io-backend's first reply grants LSR (the read shadow), then served without one.
    // The poweroff write is the only write exit.
    const text = 'Hello from Splitvisor: a RISC-V guest across four processes\r\nhart 0 says goodbye\r\n';
    expect(row('mmio-coalesced')).toMatchObject({ count: text.length, totalMs: 0 });
    expect(row('mmio-write').count).toBe(1);
    expect(row('mmio-read').count + row('mmio-shadowed').count).toBeGreaterThanOrEqual(text.length);
    expect(row('mmio-shadowed')).toMatchObject({ totalMs: 0 });
    expect(row('mmio-shadowed').count).toBeGreaterThan(text.length / 2);
    expect(stats.devices.find((d) => d.device === 'serial@0x10000000')!.shadowed).toBe(row('mmio-shadowed').count);
    expect(row('page-fetch').count).toBeGreaterThanOrEqual(1);
    expect(stats.mmioLatency.samples).toBe(row('mmio-write').count + row('mmio-read').count);
    expect(stats.mmioLatency.p50Us).toBeGreaterThan(0);
    // In emulate the guest's own firmware does what the mode monitors would: their rows
    // are there (top and bench modes read them) and stay 0.
    expect(stats.mode).toBe('emulate');
    for (const r of ['priv-insn', 'sbi-call', 'shadow-fault', 'guest-page-fault', 'virq-inject', 'vtrap'])
      expect(row(r)).toEqual({ reason: r, count: 0, totalMs: 0 });

    let out = '';
    const stop = await bus.replay(streams.console, subjects.consoleOut('hello'), ConsoleOutputCodec, (m) => (out += Buffer.from(m.data).toString()));
    const end = Date.now() + 3000;
    while (out !== text && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(out).toBe(text);

    // The pages it held went back to mmu before the exit was announced.
    const mem = await mmu.call('GetVmStats', { vmId: 'hello' });
    expect(mem.writeBacks).toBeGreaterThan(0);
    expect((await vms.stop('hello', 'test')).vmId).toBe('hello');
  });

  it('runs guests/hello and guests/memsum with engine translate: the same console and exit; the loops of memsum compiled', async () => {
    await prepare('hello-tr', 'guests/hello/hello.bin');
    const exited = nextExit('hello-tr');
    vms.start(startReq('hello-tr', { engine: 'translate' }));
    expect(await exited).toMatchObject({ source: 'cpu', exitCode: 0, reason: 'poweroff: guest powered off with code 0' });
    expect(vms.stats('hello-tr').engine).toBe('translate');
    let out = '';
    const stop = await bus.replay(streams.console, subjects.consoleOut('hello-tr'), ConsoleOutputCodec, (m) => (out += Buffer.from(m.data).toString()));
    const text = 'Hello from Splitvisor: a RISC-V guest across four processes\r\nhart 0 says goodbye\r\n';
    const end = Date.now() + 3000;
    while (out !== text && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(out).toBe(text);
    await vms.stop('hello-tr', 'test');

    // memsum: 200 passes over 1 MiB, every word checked; its loops run hot.
    await prepare('memsum-tr', 'guests/memsum/memsum.bin');
    const summed = nextExit('memsum-tr');
    vms.start(startReq('memsum-tr', { engine: 'translate' }));
    expect(await summed).toMatchObject({ source: 'cpu', exitCode: 0, reason: 'poweroff: guest powered off with code 0' });
    const st = vms.stats('memsum-tr');
    expect(st.codeCache.compiled).toBeGreaterThan(0);
    expect(st.codeCache.compileMs).toBeGreaterThan(0);
    // RAM in a WebAssembly memory, the page cache's states beside it: M-mode blocks there.
    expect(st.codeCache.compiledWasm).toBeGreaterThan(0);
    expect(st.instret).toBeGreaterThan(50_000_000);
    await vms.stop('memsum-tr', 'test');
  }, 60_000);

  it('runs guests/hyp on a hart with H (StartVm h), and without h its hypervisor fails at its first H CSR', async () => {
    await prepare('hyp', 'guests/hyp/hyp.bin');
    const exited = nextExit('hyp');
    vms.start(startReq('hyp', { h: true }));
    expect(await exited).toMatchObject({ exitCode: 0, reason: 'poweroff: guest powered off with code 0' });
    await vms.stop('hyp', 'test');
    // The same image on the plain hart: hstatus is an illegal instruction, which its M-mode
    // handler reports with fail code 5.
    await prepare('plain', 'guests/hyp/hyp.bin');
    const failed = nextExit('plain');
    vms.start(startReq('plain'));
    expect(await failed).toMatchObject({ exitCode: 5 });
    await vms.stop('plain', 'test');
    // Two whole VMs over real gRPC: 2.3 s on an idle machine, over 5 s (vitest's default)
    // in a loaded suite (CI, load ~10). A limit here is not a speed target: bench is.
  }, 30_000);

  it('posts UART transmit and doorbells instead of exiting, in program order (guests/posted)', async () => {
    // guests/posted: 6 synchronous UART register writes, 2,328 stores at THR's offset
    // (2,049 divisor latch bytes, 3 looped-back bytes, 276 console bytes), 2 QueueNotify
    // doorbells, the poweroff. Its own checks (divisor read back, loopback bytes on RBR)
    // fail the guest if a posted store is applied after a later access.
    const line = (n: number) => `${String(n).padStart(2, '0')} the quick brown fox jumps over the lazy dog 0123456789 ABCDEF\r\n`;
    const text = Array.from({ length: 4 }, (_, i) => line(i)).join('') + 'posted: ok\r\n';
    await prepare('posted', 'guests/posted/posted.bin');
    // The console as stored when io-backend announces the poweroff: it must be complete
    // already, since the poweroff exit carried the last posted bytes and the console is
    // flushed before the event.
    const storedAtPoweroff = new Promise<number>((resolve) => {
      const unsub = bus.subscribe(subjects.lifecycle('posted', 'io-backend'), LifecycleEventCodec, (ev) => {
        if (ev.kind !== 'LIFECYCLE_POWEROFF') return;
        unsub();
        void bus.lastSeq(streams.console, subjects.consoleOut('posted')).then(resolve);
      });
    });
    const exited = nextExit('posted');
    vms.start(startReq('posted'));
    expect(await exited).toMatchObject({ exitCode: 0, reason: 'poweroff: guest powered off with code 0' });
    const lastSeq = await storedAtPoweroff;
    let out = '';
    let seen = 0;
    const stop = await bus.replay(streams.console, subjects.consoleOut('posted'), ConsoleOutputCodec, (m, _s, seq) => {
      if (seq <= lastSeq) out += Buffer.from(m.data).toString('latin1');
      seen = seq;
    });
    for (const end = Date.now() + 3000; seen < lastSeq && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    stop();
    expect(out).toBe(text);

    const row = (r: string) => vms.stats('posted').exits.find((e) => e.reason === r)!;
    const coalesced = row('mmio-coalesced').count;
    // A THR store that finds the ring full exits instead, carrying the ring: at most a few.
    const ringFull = 2328 - coalesced;
    expect(ringFull).toBeGreaterThanOrEqual(0);
    expect(ringFull).toBeLessThanOrEqual(Math.ceil(2328 / 1024));
    expect(row('mmio-write').count).toBe(6 + 1 + ringFull);
    expect(row('doorbell')).toMatchObject({ count: 2, totalMs: 0 });
    expect(row('mmio-coalesced').totalMs).toBe(0);
    const devices = vms.stats('posted').devices;
    expect(devices.find((d) => d.device === 'serial@0x10000000')).toMatchObject({ writes: 6 + ringFull, posted: coalesced });
    expect(devices.find((d) => d.device === 'virtio_mmio@0x10001000')).toMatchObject({ reads: 0, writes: 0, totalMs: 0, posted: 1 });
    expect(devices.find((d) => d.device === 'virtio_mmio@0x10008000')).toMatchObject({ reads: 0, writes: 0, totalMs: 0, posted: 1 });
    expect(devices.find((d) => d.device === 'test@0x100000')).toMatchObject({ writes: 1, posted: 0 });

    // io-backend applied every posted store through its bus, and heard both doorbells.
    let dev = await io.call('GetVmStats', { vmId: 'posted' });
    for (const end = Date.now() + 3000; dev.doorbells < 2 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 20));
      dev = await io.call('GetVmStats', { vmId: 'posted' });
    }
    expect(dev.doorbells).toBe(2);
    expect(dev.coalescedWrites).toBe(coalesced);
    expect(dev.consoleBytesOut).toBe(text.length);
    const writes = (d: string) => dev.devices.find((x) => x.device === d)!.writes;
    expect(writes('uart0')).toBe(6 + 2328);
    expect(writes('virtio_mmio@10001000')).toBe(1);
    expect(writes('virtio_mmio@10008000')).toBe(1);
    await vms.stop('posted', 'test');
  });

  it('fails the VM when an exit cannot be served, naming the service and the access', async () => {
    // No AttachVm at io-backend: every MMIO exit comes back NOT_FOUND.
    await mmu.call('CreateVm', { vmId: 'orphan', ramBase: RAM, ramSize: 4 * MIB });
    const data = await readFile(join(REPO_ROOT, 'guests/hello/hello.bin'));
    await new Promise<void>((resolve, reject) => {
      const call = mmu.raw.LoadImage(new grpc.Metadata(), { deadline: deadlineIn(5000) }, (err) => (err ? reject(err) : resolve()));
      call.write({ vmId: 'orphan', addr: RAM, data });
      call.end();
    });
    const exited = nextExit('orphan');
    vms.start(startReq('orphan'));
    const ev = await exited;
    expect(ev.reason).toMatch(/^exit-failed: MMIO exit failed: MMIO read of 1 bytes at 0x10000005 failed: io-backend at 127\.0\.0\.1:\d+ NOT_FOUND/);
    await vms.stop('orphan', 'test');
  });

  it('stops a running vCPU on request, at its next safepoint', async () => {
    await prepare('echo', 'guests/echo/echo.bin');
    const exited = nextExit('echo');
    vms.start(startReq('echo'));
    await new Promise((r) => setTimeout(r, 300));
    expect(vms.stats('echo').running).toBe(true);
    const t0 = Date.now();
    await vms.stop('echo', 'stopped by the test');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await exited).reason).toBe('stopped: stopped by the test');
  });

  it('pauses a running vCPU at a safepoint (no instruction retires) and resumes it', async () => {
    await prepare('pz', 'guests/echo/echo.bin');
    vms.start(startReq('pz'));
    await new Promise((r) => setTimeout(r, 200));
    const paused = await vms.pause('pz');
    expect(paused.paused).toBe(true);
    const frozen = vms.stats('pz');
    await new Promise((r) => setTimeout(r, 300));
    const later = vms.stats('pz');
    expect(later.instret).toBe(frozen.instret);
    expect(later.exits.find((e) => e.reason === 'mmio-read')!.count).toBe(frozen.exits.find((e) => e.reason === 'mmio-read')!.count);
    expect((await vms.resume('pz')).paused).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    // It runs again: echo polls LSR, from the read shadow while its lease lasts (1 s), so
    // count instructions rather than exits.
    expect(vms.stats('pz').instret).toBeGreaterThan(frozen.instret);
    // Stop works on a paused vCPU too.
    await vms.pause('pz');
    await vms.stop('pz', 'test');
    await expect(vms.pause('pz')).rejects.toThrow(/vm "pz" is not running on this cpu/);
  });

  it('measures the transport floor to io-backend', async () => {
    const s = await vms.probeIo(50);
    expect(s.samples).toBe(50);
    expect(s.p99Us).toBeGreaterThanOrEqual(s.p50Us);
    await expect(vms.probeIo(0)).rejects.toThrow(/count 0 must be between 1 and 100000/);
    // The floor under an exit: empty messages on an exit stream for an attached VM.
    await io.call('AttachVm', { vmId: 'probe' });
    const st = await vms.probeIo(50, 'probe');
    expect(st.samples).toBe(50);
    await io.call('DetachVm', { vmId: 'probe' });
    await expect(vms.probeIo(5, 'probe')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'vm "probe" is not attached' });
  });

  it.each([
    [{ vmId: 'Bad.Id' }, /vm_id: "Bad.Id" must be/],
    [{ ramBase: RAM + 1 }, /ram_base 0x80000001 is not page-aligned/],
    [{ ramSize: 0 }, /ram_size 0 must be a multiple of 4096/],
    [{ entry: 0x1000 }, /entry 0x1000 lies outside RAM \[0x80000000, 0x80400000\)/],
    [{ vcpus: 2 }, /vcpus 2: this cpu runs exactly 1 vCPU per VM for now/],
    // Defence in depth: dom0 refuses these at create; the cpu again, naming its modes.
    [{ mode: 'kvm' }, /^mode: "kvm" is not a mode \(modes: emulate, hw, trap, pv; this build has emulate, hw, trap, pv\)$/],
    [{ mode: 'hw', h: true }, /^h: the H extension needs mode "emulate", not "hw" \(no monitor offers nested virtualization yet\)$/],
    [{ mode: 'trap', h: true }, /^h: the H extension needs mode "emulate", not "trap"/],
    [{ engine: 'jit' }, /^engine "jit" must be one of "interp", "translate"$/],
  ])('refuses a bad StartVm %j', (over, msg) => {
    let err: unknown;
    try {
      vms.start(startReq('bad', over));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe('INVALID_ARGUMENT');
    expect((err as RpcError).message).toMatch(msg);
  });

  it('refuses a second start of a running VM and stats of an unknown one', async () => {
    await prepare('twice', 'guests/echo/echo.bin');
    vms.start(startReq('twice'));
    expect(() => vms.start(startReq('twice'))).toThrow(/vm "twice" is already running on this cpu/);
    expect(() => vms.stats('nobody')).toThrow(/vm "nobody" is not running on this cpu/);
    await vms.stop('twice', 'test');
  });
});
