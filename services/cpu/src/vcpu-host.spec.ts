// A VmManager's vCPU without processes or a network: a real worker thread runs the guest,
// and its ports are in-process fakes (ports/ports.ts) standing in for mmu, io-backend and
// NATS: guest pages served from an image, a UART that is always ready, a sifive_test that
// powers off, recalls asked directly.
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventsV1, IoV1, MmuV1 } from '@splitvisor/proto';
import { RpcError } from '@splitvisor/rpc';
import { DRAM_BASE, PAGE_SIZE, SIFIVE_TEST, UART0 } from '@splitvisor/platform';
import { PageState, encode } from '@splitvisor/riscv';
import { REPO_ROOT, silentLogger, until } from '@splitvisor/testing';
import { VcpuHost } from './vcpu-host.js';
import { SpareWorkers } from './spare-workers.js';
import type { MmioAccess, VcpuPorts } from './ports/index.js';

const RAM_SIZE = 1 << 20;
const BASE_GFN = DRAM_BASE / PAGE_SIZE;
const FINISHER_PASS = 0x5555;
const PLIC_PENDING = 0x0c001000;

function mmioReply(over: Partial<IoV1.MmioReply__Output> = {}): IoV1.MmioReply__Output {
  return { status: 'MMIO_OK', valueLo: 0, valueHi: 0, event: 'SYSTEM_EVENT_NONE', exitCode: 0, detail: '', irqLines: [], seq: 0, shadow: null, ...over };
}

/** Fake ports over a guest image; `access` may replace the device model; `shadow`: revokes
 *  are listened for (none ever comes), so grants in replies are taken. */
function world(image: Uint8Array, access?: (req: MmioAccess) => Promise<IoV1.MmioReply__Output>, opts: { shadow?: boolean; spares?: SpareWorkers } = {}) {
  const home = new Uint8Array(RAM_SIZE);
  home.set(image);
  let grant = 0;
  let console = '';
  const wroteBack: MmuV1.Page[] = [];
  let released = false;
  let recall: ((req: MmuV1.RecallRequest__Output) => Promise<MmuV1.RecallReply>) | undefined;
  const bells: EventsV1.Doorbell[] = [];
  let irqLine: ((l: EventsV1.IrqLine__Output) => void) | undefined;
  const applyPosted = (writes: IoV1.PostedWrite[] = []) => {
    for (const w of writes) if (Number(w.addr) === UART0.base) console += String.fromCharCode(Number(w.valueLo));
  };
  const ports: VcpuPorts = {
    pages: {
      address: 'fake-mmu',
      fetch: async (gfn, count) => ({
        pages: Array.from({ length: count }, (_, i) => {
          const at = (gfn + i - BASE_GFN) * PAGE_SIZE;
          return { gfn: gfn + i, data: Buffer.from(home.subarray(at, at + PAGE_SIZE)), zero: false, keep: false };
        }),
        grant: ++grant,
        epoch: 'e1',
      }),
      writeBack: async (pages, releaseAll) => {
        wroteBack.push(...pages);
        released ||= releaseAll;
      },
      reregister: async () => undefined,
    },
    recalls: {
      listen(answer) {
        recall = answer;
        return () => (recall = undefined);
      },
    },
    mmio: {
      address: 'fake-io',
      access:
        access ??
        (async (req) => {
          applyPosted(req.posted);
          const addr = Number(req.addr);
          if (addr === SIFIVE_TEST.base && req.write) {
            const v = Number(req.valueLo);
            return mmioReply({ event: 'SYSTEM_EVENT_POWEROFF', exitCode: v === FINISHER_PASS ? 0 : v >>> 16 });
          }
          if (addr === UART0.base + 5) return mmioReply({ valueLo: 0x60 }); // LSR: THR empty
          return mmioReply();
        }),
      post: async (writes) => applyPosted(writes),
      close: () => undefined,
    },
    doorbells: {
      ring: async (bell) => {
        bells.push(bell);
        return 1;
      },
    },
    irqLines: {
      follow: async (onLine) => {
        irqLine = onLine;
        return () => (irqLine = undefined);
      },
      current: async () => [],
      onGap: () => () => undefined,
    },
    ...(opts.shadow && { shadowRevokes: { listen: async () => () => undefined } }),
  };
  const host = new VcpuHost({ vmId: 'vm', ramBase: DRAM_BASE, ramSize: RAM_SIZE, entry: DRAM_BASE, dtbAddr: 0, clock: 'host', mode: 'emulate' }, ports, {
    exitDeadlineMs: 2000,
    log: silentLogger(),
    ...(opts.spares && { spares: opts.spares }),
  });
  return {
    host,
    console: () => console,
    wroteBack,
    released: () => released,
    irqLine: (l: EventsV1.IrqLine__Output) => irqLine!(l),
    recall: (req: Omit<MmuV1.RecallRequest__Output, 'vmId' | 'holder' | 'epoch' | 'grant'>) =>
      recall!({ vmId: 'vm', holder: 'cpu', epoch: 'e1', grant: 0, ...req }),
  };
}

function program(insns: number[]): Uint8Array {
  const b = new Uint8Array(insns.length * 4);
  insns.forEach((insn, i) => new DataView(b.buffer).setUint32(i * 4, insn >>> 0, true));
  return b;
}

const { Reg } = encode;

describe('VcpuHost on fake ports', () => {
  it("runs VMs on spare threads, started ahead and replaced when a VM's thread ends", async () => {
    const image = await readFile(join(REPO_ROOT, 'guests/hello/hello.bin'));
    const spares = new SpareWorkers(true, silentLogger());
    try {
      for (let i = 1; i <= 3; i++) {
        const w = world(image, undefined, { spares });
        // Taken: none is up while the VM runs (the next starts when its thread ends).
        expect(spares.hasSpare).toBe(false);
        expect(await w.host.exited).toEqual({ cause: 'poweroff', reason: 'guest powered off with code 0', exitCode: 0 });
        expect(w.console()).toBe('Hello from Splitvisor: a RISC-V guest across four processes\r\nhart 0 says goodbye\r\n');
        await w.host.stop('test over');
        // The first VM took the spare started with the pool; each later one, the spare
        // started when the VM before it ended.
        expect(spares.stats).toEqual({ taken: i, started: 0, lost: 0 });
        await until(() => spares.hasSpare, 'a spare thread again', 5000);
      }
      // Two VMs at once: the second starts its own thread.
      const a = world(image, undefined, { spares });
      const b = world(image, undefined, { spares });
      await Promise.all([a.host.exited, b.host.exited]);
      await Promise.all([a.host.stop('test over'), b.host.stop('test over')]);
      expect(spares.stats).toEqual({ taken: 4, started: 1, lost: 0 });
    } finally {
      await spares.close();
    }
    // Without spares each VM starts its own thread.
    const none = new SpareWorkers(false, silentLogger());
    const w = world(image, undefined, { spares: none });
    expect((await w.host.exited).cause).toBe('poweroff');
    await w.host.stop('test over');
    expect(none.stats).toEqual({ taken: 0, started: 1, lost: 0 });
  });

  it('runs guests/hello to poweroff: its console, the exit table, its pages given back', async () => {
    const w = world(await readFile(join(REPO_ROOT, 'guests/hello/hello.bin')));
    expect(await w.host.exited).toEqual({ cause: 'poweroff', reason: 'guest powered off with code 0', exitCode: 0 });
    expect(w.console()).toBe('Hello from Splitvisor: a RISC-V guest across four processes\r\nhart 0 says goodbye\r\n');
    const stats = w.host.stats();
    expect(stats).toMatchObject({ vmId: 'vm', running: false, paused: false });
    const row = (r: string) => stats.exits.find((e) => e.reason === r)!;
    expect(row('mmio-write').count).toBe(1);
    expect(row('mmio-coalesced').count).toBe(w.console().length);
    expect(row('page-fetch').count).toBeGreaterThanOrEqual(1);
    expect(stats.devices.map((d) => d.device)).toEqual([`test@${'0x' + SIFIVE_TEST.base.toString(16)}`, 'serial@0x10000000']);
    await w.host.stop('test over');
    expect(w.released()).toBe(true);
    expect(w.wroteBack.length).toBeGreaterThan(0);
  });

  it('pauses at a safepoint, resumes, and stops with the reason it was given', async () => {
    const w = world(program([encode.addi(Reg.t0, Reg.t0, 1), encode.jal(Reg.zero, -4)]));
    await until(() => w.host.stats().instret > 1000, 'the guest runs');
    await w.host.pause();
    expect(w.host.stats().paused).toBe(true);
    const held = w.host.stats().instret;
    await new Promise((r) => setTimeout(r, 50));
    expect(w.host.stats().instret).toBe(held);
    await w.host.resume();
    await until(() => w.host.stats().instret > held, 'the guest runs again');
    expect(await w.host.stop('asked by the test')).toEqual({ cause: 'stopped', reason: 'asked by the test', exitCode: 0 });
    expect(w.released()).toBe(true);
  });

  it('answers a recall of a page the guest wrote with its bytes, from the running worker', async () => {
    // auipc: the page after the code (lui would sign-extend 0x80001000 on RV64).
    const w = world(program([encode.auipc(Reg.t0, 1), encode.addi(Reg.t1, Reg.zero, 0x5a), encode.sb(Reg.t1, Reg.t0, 8), encode.jal(Reg.zero, 0)]));
    await until(() => w.host.cache.state[1] === PageState.Modified, 'the guest wrote its page');
    const reply = await w.recall({ id: 1, gfns: [BASE_GFN + 1], mode: 'RECALL_INVALIDATE', updates: [] });
    expect(reply.error).toBeUndefined();
    expect(reply.pages!.map((p) => [p.gfn, p.was])).toEqual([[BASE_GFN + 1, 2]]);
    expect(Buffer.from(reply.pages![0]!.data as Uint8Array)[8]).toBe(0x5a);
    expect(w.host.cache.state[1]).toBe(PageState.Invalid);
    await w.host.stop('test over');
  });

  it('raises a PLIC source when its IRQ line rises, and ignores an older word', async () => {
    // Polls source 10's pending bit, then powers off.
    const w = world(
      program([
        encode.lui(Reg.t1, PLIC_PENDING >>> 12),
        encode.lw(Reg.t2, Reg.t1, 0),
        encode.srli(Reg.t2, Reg.t2, 10),
        encode.andi(Reg.t2, Reg.t2, 1),
        encode.beq(Reg.t2, Reg.zero, -12),
        encode.lui(Reg.t3, SIFIVE_TEST.base >>> 12),
        encode.lui(Reg.t4, FINISHER_PASS >>> 12),
        encode.addi(Reg.t4, Reg.t4, FINISHER_PASS & 0xfff),
        encode.sw(Reg.t4, Reg.t3, 0),
      ]),
    );
    await until(() => w.host.stats().instret > 1000, 'the guest polls');
    w.irqLine({ vmId: 'vm', irq: 10, level: true, seq: 2 });
    w.irqLine({ vmId: 'vm', irq: 10, level: false, seq: 1 }); // overtaken: dropped
    expect(await w.host.exited).toMatchObject({ cause: 'poweroff', exitCode: 0 });
  });

  it('poll-idle: a loop on a granted LSR that never reads the clock sleeps until the grant runs out; one that reads time wakes every 20 ms', async () => {
    // LSR granted with each UART reply (0x60: nothing received), for a lease of 200 ms.
    const grant = mmioReply({
      valueLo: 0x60,
      shadow: { base: UART0.base, valid: 1 << 5, values: Buffer.from([0, 0, 0, 0, 0, 0x60, 0, 0]), epoch: 0, leaseMs: 200 },
    });
    const pollLoop = (readClock: boolean) =>
      program([
        encode.lui(Reg.t1, UART0.base >>> 12),
        ...(readClock ? [encode.csrr(Reg.t3, 0xc01)] : [encode.addi(Reg.t3, Reg.zero, 0)]), // rdtime, or a nop of the same size
        encode.lbu(Reg.t2, Reg.t1, 5),
        encode.andi(Reg.t2, Reg.t2, 1), // LSR.DR, never set
        encode.beq(Reg.t2, Reg.zero, -12),
      ]);
    const idles = async (readClock: boolean) => {
      const w = world(pollLoop(readClock), async () => grant, { shadow: true });
      await until(() => w.host.stats().exits.find((e) => e.reason === 'poll-idle')!.count >= 3, 'the loop idles', 10_000);
      const row = () => w.host.stats().exits.find((e) => e.reason === 'poll-idle')!;
      const before = row();
      await new Promise((r) => setTimeout(r, 1200));
      const after = row();
      await w.host.stop('test over');
      return { count: after.count - before.count, meanMs: (after.totalMs - before.totalMs) / (after.count - before.count) };
    };
    const untimed = await idles(false);
    const timed = await idles(true);
    // Untimed: one sleep per grant (then the read exits and the grant is renewed), each up
    // to 200 ms; timed: 20 ms sleeps. Bounds loose enough for a busy machine's scheduling.
    expect(untimed.meanMs, JSON.stringify({ untimed, timed })).toBeGreaterThan(80);
    expect(untimed.count).toBeLessThanOrEqual(12);
    expect(timed.meanMs, JSON.stringify({ untimed, timed })).toBeLessThan(60);
    expect(timed.count).toBeGreaterThan(15);
  }, 30_000);

  it('fails the VM when its MMIO port does not answer, naming where the devices are', async () => {
    const w = world(await readFile(join(REPO_ROOT, 'guests/hello/hello.bin')), async () => {
      throw new RpcError('UNAVAILABLE', 'connection refused');
    });
    const exit = await w.host.exited;
    expect(exit.cause).toBe('exit-failed');
    expect(exit.reason).toMatch(
      /^MMIO exit failed: MMIO (read|write) of \d bytes at 0x1000000\d failed: io-backend at fake-io UNAVAILABLE: connection refused$/,
    );
    await w.host.stop('test over');
  });
});
