// The io-backend's setup, in-process, against a real nats-server, a real gRPC server on a
// free port and a real client (service.test-util.ts): the same path main.ts takes, minus the process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Bus, streams, subjects } from '@splitvisor/bus';
import {
  ConsoleInputCodec,
  ConsoleOutputCodec,
  IrqLevelsCodec,
  IrqLineCodec,
  IrqQueryCodec,
  LifecycleEventCodec,
  type EventsV1,
  type IoV1,
} from '@splitvisor/proto';
import type { RpcClient, RpcError } from '@splitvisor/rpc';
import { SIFIVE_TEST, UART0 } from '@splitvisor/platform';
import { uartRegisters as R } from '@splitvisor/devices';
import { until } from '@splitvisor/testing';
import { startTestIoBackend, type TestIoBackend } from './service.test-util.js';

let t: TestIoBackend;
let reader: Bus;
let io: RpcClient<IoV1.IoBackendClient>;

beforeAll(async () => {
  t = await startTestIoBackend();
  reader = t.peer;
  io = t.io;
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

const err = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as RpcError,
  );

const mmioRead = (vmId: string, addr: number, size = 1) => io.call('Mmio', { vmId, vcpu: 0, addr, size, write: false });
const mmioWrite = (vmId: string, addr: number, valueLo: number, size = 1, valueHi = 0) =>
  io.call('Mmio', { vmId, vcpu: 0, addr, size, write: true, valueLo, valueHi });
const writeText = async (vmId: string, text: string) => {
  for (const b of Buffer.from(text)) expect((await mmioWrite(vmId, UART0.base + R.REG.RBR_THR_DLL, b)).status).toBe('MMIO_OK');
};

/** Follows a VM's console history; `text()` is what was stored so far, `upTo(seq)` up to a sequence. */
async function consoleOf(vmId: string) {
  const got: { seq: number; data: string }[] = [];
  const stop = await reader.replay(streams.console, subjects.consoleOut(vmId), ConsoleOutputCodec, (m, _s, seq) => {
    got.push({ seq, data: Buffer.from(m.data).toString() });
  });
  return {
    text: () => got.map((g) => g.data).join(''),
    upTo: (seq: number) =>
      got
        .filter((g) => g.seq <= seq)
        .map((g) => g.data)
        .join(''),
    stop,
  };
}

async function lifecycleOf(vmId: string, onEvent?: (e: EventsV1.LifecycleEvent__Output) => void) {
  const events: EventsV1.LifecycleEvent__Output[] = [];
  const stop = await reader.replay(streams.lifecycle, subjects.lifecycle(vmId, 'io-backend'), LifecycleEventCodec, (e) => {
    events.push(e);
    onEvent?.(e);
  });
  return { events, stop };
}

describe('io-backend over gRPC and NATS', () => {
  it('echoes a ping', async () => {
    const res = await io.call('Ping', { payload: Buffer.from('floor') });
    expect(Buffer.from(res.payload).toString()).toBe('floor');
  });

  it('puts bytes written to THR on the CONSOLE stream, and LSR says THR is empty', async () => {
    await io.call('AttachVm', { vmId: 'con-1' });
    await writeText('con-1', 'hi\n');
    const lsr = await mmioRead('con-1', UART0.base + R.REG.LSR);
    expect(lsr).toMatchObject({ status: 'MMIO_OK', event: 'SYSTEM_EVENT_NONE' });
    expect(lsr.valueLo & (R.LSR_THRE | R.LSR_TEMT)).toBe(R.LSR_THRE | R.LSR_TEMT);
    const con = await consoleOf('con-1');
    await until(() => con.text() === 'hi\n', 'console shows hi');
    // A partial line follows after the coalescing delay.
    await writeText('con-1', '$ ');
    await until(() => con.text() === 'hi\n$ ', 'partial line flushed');
    con.stop();
  });

  it('feeds console input from NATS to RBR, with LSR.DR while bytes wait', async () => {
    await io.call('AttachVm', { vmId: 'con-in' });
    reader.publish(subjects.consoleIn('con-in'), ConsoleInputCodec, { vmId: 'con-in', data: Buffer.from('ls\r') });
    // Input arrives asynchronously: poll LSR as a driver would, read RBR while DR is set.
    const got: number[] = [];
    for (let i = 0; i < 300 && got.length < 3; i++) {
      const lsr = (await mmioRead('con-in', UART0.base + R.REG.LSR)).valueLo;
      if (lsr & R.LSR_DR) got.push((await mmioRead('con-in', UART0.base + R.REG.RBR_THR_DLL)).valueLo);
      else await new Promise((r) => setTimeout(r, 10));
    }
    expect(Buffer.from(got).toString()).toBe('ls\r');
    expect((await mmioRead('con-in', UART0.base + R.REG.LSR)).valueLo & R.LSR_DR).toBe(0);
  });

  it('powers off on PASS: console stored first, then the lifecycle event, then the reply', async () => {
    await io.call('AttachVm', { vmId: 'pass-1' });
    // "bye" has no newline: it is still buffered (10 ms) when the poweroff write arrives.
    let seqAtEvent: Promise<number> | undefined;
    const life = await lifecycleOf('pass-1', () => {
      seqAtEvent ??= reader.lastSeq(streams.console, subjects.consoleOut('pass-1'));
    });
    await writeText('pass-1', 'bye');
    const res = await mmioWrite('pass-1', SIFIVE_TEST.base, 0x5555, 4);
    expect(res).toMatchObject({ status: 'MMIO_OK', event: 'SYSTEM_EVENT_POWEROFF', exitCode: 0 });
    await until(() => life.events.length === 1, 'lifecycle event');
    expect(life.events[0]).toMatchObject({
      vmId: 'pass-1',
      kind: 'LIFECYCLE_POWEROFF',
      exitCode: 0,
      reason: 'guest wrote 0x5555 to sifive_test at 0x100000',
      source: 'io-backend',
    });
    expect(Math.abs(life.events[0]!.at - Date.now())).toBeLessThan(10_000);
    // What was stored when the event was seen is all the output.
    const seq = await seqAtEvent!;
    expect(seq).toBeGreaterThan(0);
    const con = await consoleOf('pass-1');
    await until(() => con.text() === 'bye', 'console history');
    expect(con.upTo(seq)).toBe('bye');
    con.stop();
    life.stop();
  });

  it('powers off on FAIL with the code from bits 31:16', async () => {
    await io.call('AttachVm', { vmId: 'fail-1' });
    const life = await lifecycleOf('fail-1');
    await writeText('fail-1', 'oops\n');
    const res = await mmioWrite('fail-1', SIFIVE_TEST.base, (7 << 16) | 0x3333, 4);
    expect(res).toMatchObject({ status: 'MMIO_OK', event: 'SYSTEM_EVENT_POWEROFF', exitCode: 7 });
    await until(() => life.events.length === 1, 'lifecycle event');
    expect(life.events[0]).toMatchObject({ kind: 'LIFECYCLE_POWEROFF', exitCode: 7, reason: 'guest wrote 0x73333 to sifive_test at 0x100000' });
    life.stop();
  });

  it('reports a reset request and resets the devices', async () => {
    await io.call('AttachVm', { vmId: 'reset-1' });
    const life = await lifecycleOf('reset-1');
    await mmioWrite('reset-1', UART0.base + R.REG.SCR, 0x42);
    const res = await mmioWrite('reset-1', SIFIVE_TEST.base, 0x7777, 4);
    expect(res).toMatchObject({ status: 'MMIO_OK', event: 'SYSTEM_EVENT_RESET', exitCode: 0 });
    await until(() => life.events.length === 1, 'lifecycle event');
    expect(life.events[0]).toMatchObject({ kind: 'LIFECYCLE_RESET', reason: 'guest wrote 0x7777 to sifive_test at 0x100000' });
    expect((await mmioRead('reset-1', UART0.base + R.REG.SCR)).valueLo).toBe(0);
    life.stop();
  });

  it('answers guest mistakes with a status naming them, never an error', async () => {
    await io.call('AttachVm', { vmId: 'bad-1' });
    expect(await mmioRead('bad-1', 0x20000000, 4)).toMatchObject({ status: 'MMIO_UNMAPPED', detail: 'no device at 0x20000000' });
    expect(await mmioWrite('bad-1', UART0.base, 0x41, 3)).toMatchObject({
      status: 'MMIO_BAD_ACCESS',
      detail: 'write of size 3 at 0x10000000: size must be 1, 2, 4 or 8',
    });
    expect(await mmioRead('bad-1', UART0.base, 4)).toMatchObject({
      status: 'MMIO_BAD_ACCESS',
      detail: 'uart0 at 0x10000000: 4-byte read at offset 0x0 refused: ns16550a registers are 1 byte wide',
    });
    expect(await mmioRead('bad-1', UART0.base + 2, 4)).toMatchObject({ status: 'MMIO_BAD_ACCESS', detail: /misaligned/ });
    expect(await mmioRead('bad-1', 2 ** 62, 8)).toMatchObject({ status: 'MMIO_UNMAPPED' });
    expect(await mmioWrite('bad-1', SIFIVE_TEST.base + 0xffc, 1, 8)).toMatchObject({ status: 'MMIO_BAD_ACCESS', detail: /crosses the end/ });
    // A 64-bit read of the finisher: two 4-byte reads of 0.
    expect(await mmioRead('bad-1', SIFIVE_TEST.base, 8)).toMatchObject({ status: 'MMIO_OK', valueLo: 0, valueHi: 0 });
  });

  it('validates attach and detach', async () => {
    expect(await err(io.call('AttachVm', { vmId: 'Bad.Id' }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: /vm_id: "Bad.Id"/ });
    expect(await err(io.call('AttachVm', { vmId: '' }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    await io.call('AttachVm', { vmId: 'twice' });
    expect(await err(io.call('AttachVm', { vmId: 'twice' }))).toMatchObject({ code: 'ALREADY_EXISTS', message: 'vm "twice" is already attached' });
    expect(await err(mmioRead('ghost', UART0.base))).toMatchObject({ code: 'NOT_FOUND', message: 'vm "ghost" is not attached' });
    expect(await err(io.call('DetachVm', { vmId: 'ghost' }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('flushes the console on detach, then forgets the VM', async () => {
    await io.call('AttachVm', { vmId: 'gone-1' });
    await writeText('gone-1', 'last words');
    await io.call('DetachVm', { vmId: 'gone-1' });
    expect(await reader.lastSeq(streams.console, subjects.consoleOut('gone-1'))).toBeGreaterThan(0);
    const con = await consoleOf('gone-1');
    await until(() => con.text() === 'last words', 'flushed on detach');
    con.stop();
    expect(await err(mmioRead('gone-1', UART0.base + R.REG.LSR))).toMatchObject({ code: 'NOT_FOUND' });
    // Attachable again afterwards.
    await io.call('AttachVm', { vmId: 'gone-1' });
    await io.call('DetachVm', { vmId: 'gone-1' });
  });
});

describe('interrupt lines on NATS (irqfd-like level state)', () => {
  it('publishes UART0 IRQ 10 rising on received data and falling when it is read; answers level queries', async () => {
    await io.call('AttachVm', { vmId: 'irqvm' });
    const lines: EventsV1.IrqLine__Output[] = [];
    const unsub = reader.subscribe(subjects.irq('irqvm'), IrqLineCodec, (l) => lines.push(l));
    await reader.nc.flush();
    // IER bit 0: interrupt on received data available.
    await mmioWrite('irqvm', UART0.base + R.REG.IER_DLM, 0x01);
    reader.publish(subjects.consoleIn('irqvm'), ConsoleInputCodec, { vmId: 'irqvm', data: Buffer.from('k') });
    await until(() => lines.some((l) => l.level), 'irq 10 rises');
    expect(lines.at(-1)).toMatchObject({ vmId: 'irqvm', irq: UART0.irq, level: true });
    const now = await reader.request(subjects.irqQuery('irqvm'), IrqQueryCodec, { vmId: 'irqvm' }, IrqLevelsCodec);
    expect(now.lines).toEqual([expect.objectContaining({ irq: UART0.irq, level: true })]);
    expect((await mmioRead('irqvm', UART0.base + R.REG.RBR_THR_DLL)).valueLo).toBe('k'.charCodeAt(0));
    await until(() => lines.at(-1)?.level === false, 'irq 10 falls');
    const st = await io.call('GetVmStats', { vmId: 'irqvm' });
    expect(st.devices.find((d) => d.device === 'uart0' || d.device.includes('serial') || d.device.includes('uart'))).toMatchObject({ reads: 1, writes: 1 });
    expect(Number(st.consoleBytesIn)).toBe(1);
    expect(st.irqLinesHigh).toEqual([]);
    const gone = (await err(io.call('GetVmStats', { vmId: 'nobody' }))) as RpcError;
    expect(gone.code).toBe('NOT_FOUND');
    expect(lines.map((l) => l.seq)).toEqual([...lines.map((l) => l.seq)].sort((a, b) => a - b));
    unsub();
    await io.call('DetachVm', { vmId: 'irqvm' });
  });

  it("serves a vCPU's exits on one stream in order, each reply with its seq; a VM it does not have ends the stream NOT_FOUND", async () => {
    await io.call('AttachVm', { vmId: 'stream-1' });
    const stream = io.raw.MmioStream();
    const replies: IoV1.MmioReply__Output[] = [];
    const ended = new Promise<grpc.StatusObject | Error>((resolve) => {
      stream.on('data', (r: IoV1.MmioReply__Output) => replies.push(r));
      stream.on('error', (e: Error) => resolve(e));
    });
    stream.write({ vmId: 'stream-1', addr: UART0.base + R.REG.SCR, size: 1, write: true, valueLo: 0x5a, seq: 1 });
    stream.write({ vmId: 'stream-1', addr: UART0.base + R.REG.SCR, size: 1, write: false, seq: 2 });
    stream.write({
      vmId: 'stream-1',
      addr: 0,
      size: 0,
      write: false,
      postedOnly: true,
      posted: [{ addr: UART0.base + R.REG.SCR, size: 1, valueLo: 0x33 }],
      seq: 3,
    });
    stream.write({ vmId: 'stream-1', addr: UART0.base + R.REG.SCR, size: 1, write: false, seq: 4 });
    await until(() => replies.length === 4, 'four replies');
    expect(replies.map((r) => [r.seq, r.status, r.valueLo])).toEqual([
      [1, 'MMIO_OK', 0],
      [2, 'MMIO_OK', 0x5a],
      [3, 'MMIO_OK', 0],
      [4, 'MMIO_OK', 0x33],
    ]);
    stream.write({ vmId: 'nobody', addr: UART0.base, size: 1, write: false, seq: 5 });
    const e = (await ended) as grpc.ServiceError;
    expect(e.code).toBe(grpc.status.NOT_FOUND);
    expect(e.details).toBe('vm "nobody" is not attached');
    await io.call('DetachVm', { vmId: 'stream-1' });
  });

  it('answers an access with the line changes it caused, the same changes (and seq) it publishes', async () => {
    await io.call('AttachVm', { vmId: 'irqsync' });
    const lines: EventsV1.IrqLine__Output[] = [];
    const unsub = reader.subscribe(subjects.irq('irqsync'), IrqLineCodec, (l) => lines.push(l));
    await reader.nc.flush();
    // IER.THRI with THR empty raises the line at once (16550A: THRE is an interrupt source).
    const attachedAt = Date.now();
    const up = await io.call('Mmio', { vmId: 'irqsync', addr: UART0.base + R.REG.IER_DLM, size: 1, write: true, valueLo: R.IER_THRI });
    // The sequence starts at the clock (x1000), so a restarted io-backend's changes are newer
    // than its predecessor's to the cpu.
    const seq = up.irqLines[0]!.seq;
    expect(seq).toBeGreaterThan((attachedAt - 60_000) * 1000);
    expect(up.irqLines).toEqual([expect.objectContaining({ irq: UART0.irq, level: true, seq })]);
    // Reading IIR reports (and so clears) the THRE interrupt: the line drops in that access.
    const down = await io.call('Mmio', { vmId: 'irqsync', addr: UART0.base + R.REG.IIR_FCR, size: 1, write: false });
    expect(down.irqLines).toEqual([expect.objectContaining({ irq: UART0.irq, level: false, seq: seq + 1 })]);
    // An access that moves no line carries none.
    expect((await io.call('Mmio', { vmId: 'irqsync', addr: UART0.base + R.REG.SCR, size: 1, write: true, valueLo: 7 })).irqLines).toEqual([]);
    await until(() => lines.length === 2, 'both changes on NATS too');
    expect(lines.map((l) => [l.level, l.seq])).toEqual([
      [true, seq],
      [false, seq + 1],
    ]);
    unsub();
    await io.call('DetachVm', { vmId: 'irqsync' });
  });
});
