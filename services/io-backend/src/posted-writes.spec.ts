// Posted writes at the device model: in order through the VM's bus (unit), and as the cpu
// sends them, on an Mmio exit, in PostWrites and as NATS doorbells (the service in-process,
// real nats-server and gRPC).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, streams, subjects } from '@splitvisor/bus';
import { ConsoleOutputCodec, DoorbellCodec, type IoV1 } from '@splitvisor/proto';
import type { RpcClient } from '@splitvisor/rpc';
import { gpa, UART0, virtioMmioSlot } from '@splitvisor/platform';
import { uartRegisters as R } from '@splitvisor/devices';
import { PostedWrites, QUEUE_NOTIFY, isQueueNotify } from './posted-writes.js';
import { VmDevices } from './vm-devices.js';
import { silentLogger } from '@splitvisor/testing';
import { startTestIoBackend, type TestIoBackend } from './service.test-util.js';

const THR = UART0.base + R.REG.RBR_THR_DLL;
const LCR = UART0.base + R.REG.LCR;
const bytes = (text: string, addr = THR) => [...Buffer.from(text)].map((b) => ({ addr, size: 1, valueLo: b, valueHi: 0 }));

describe('PostedWrites on a VM device set', () => {
  function devices() {
    const out: number[] = [];
    const d = new VmDevices({ consoleByte: (b) => out.push(b), irq: () => undefined });
    return { d, out, posted: new PostedWrites('v', d, silentLogger()) };
  }

  it('applies coalesced writes in order, each as a write of its device', () => {
    const { d, out, posted } = devices();
    posted.apply(bytes('hello'));
    expect(Buffer.from(out).toString()).toBe('hello');
    expect(posted.stats).toEqual({ coalescedWrites: 5, doorbells: 0, postedRefused: 0 });
    expect(d.stats.mmio['uart0']!.writes).toBe(5);
  });

  it('puts a write at offset 0 under DLAB in the divisor latch, not on the console', () => {
    const { d, out, posted } = devices();
    d.access(gpa(LCR), 1, true, 0x83, 0); // DLAB=1, synchronous as the cpu sends it
    posted.apply(bytes('\x0c'));
    expect(d.access(gpa(THR), 1, false, 0, 0)).toMatchObject({ ok: true, lo: 0x0c });
    expect(out).toEqual([]);
  });

  it('applies a doorbell as a 4-byte QueueNotify write, and refuses one at any other address or for another VM', () => {
    const { d, posted } = devices();
    const slot = virtioMmioSlot(3).base;
    posted.ring({ vmId: 'v', vcpu: 0, addr: slot + QUEUE_NOTIFY, value: 1, seq: 1 });
    posted.ring({ vmId: 'v', vcpu: 0, addr: slot + 0x070, value: 1, seq: 2 });
    posted.ring({ vmId: 'w', vcpu: 0, addr: slot + QUEUE_NOTIFY, value: 1, seq: 3 });
    expect(posted.stats).toEqual({ coalescedWrites: 0, doorbells: 1, postedRefused: 2 });
    expect(d.stats.mmio['virtio_mmio@10004000']!.writes).toBe(1);
    expect(isQueueNotify(virtioMmioSlot(7).base + QUEUE_NOTIFY)).toBe(true);
    expect(isQueueNotify(virtioMmioSlot(7).base + 0x1000 + QUEUE_NOTIFY)).toBe(false);
  });
});

describe('posted writes through the io-backend service', () => {
  let t: TestIoBackend;
  let cpuSide: Bus;
  let io: RpcClient<IoV1.IoBackendClient>;

  beforeAll(async () => {
    t = await startTestIoBackend();
    ({ peer: cpuSide, io } = t);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  async function consoleText(vmId: string, length: number): Promise<string> {
    let text = '';
    const stop = await cpuSide.replay(streams.console, subjects.consoleOut(vmId), ConsoleOutputCodec, (m) => (text += Buffer.from(m.data).toString()));
    for (const end = Date.now() + 3000; text.length < length && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    stop();
    return text;
  }

  it('applies the writes an exit carries before the exit itself, and PostWrites batches in arrival order', async () => {
    await io.call('AttachVm', { vmId: 'pw' });
    await io.call('PostWrites', { vmId: 'pw', vcpu: 0, writes: bytes('one ') });
    // Loopback on: the posted THR bytes riding on the LSR read must be in RBR when it is read.
    await io.call('Mmio', { vmId: 'pw', vcpu: 0, addr: UART0.base + R.REG.MCR, size: 1, write: true, valueLo: 0x18, posted: bytes('two ') });
    const lsr = await io.call('Mmio', { vmId: 'pw', vcpu: 0, addr: UART0.base + R.REG.LSR, size: 1, write: false, posted: bytes('ab') });
    expect(lsr.valueLo & 0x01).toBe(1);
    expect((await io.call('Mmio', { vmId: 'pw', vcpu: 0, addr: THR, size: 1, write: false })).valueLo).toBe(0x61);
    expect((await io.call('Mmio', { vmId: 'pw', vcpu: 0, addr: THR, size: 1, write: false })).valueLo).toBe(0x62);
    await io.call('Mmio', { vmId: 'pw', vcpu: 0, addr: UART0.base + R.REG.MCR, size: 1, write: true, valueLo: 0x08 });
    expect(await consoleText('pw', 8)).toBe('one two ');
    const s = await io.call('GetVmStats', { vmId: 'pw' });
    expect(s).toMatchObject({ coalescedWrites: 10, consoleBytesOut: 8, doorbells: 0 });
    await io.call('DetachVm', { vmId: 'pw' });
  });

  it("hears an attached VM's doorbells on NATS and applies each as a QueueNotify write", async () => {
    await io.call('AttachVm', { vmId: 'db' });
    const addr = virtioMmioSlot(0).base + QUEUE_NOTIFY;
    for (let seq = 1; seq <= 3; seq++) cpuSide.publish(subjects.doorbell('db'), DoorbellCodec, { vmId: 'db', vcpu: 0, addr, value: seq - 1, seq });
    await cpuSide.nc.flush();
    let s = await io.call('GetVmStats', { vmId: 'db' });
    for (const end = Date.now() + 3000; s.doorbells < 3 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 10));
      s = await io.call('GetVmStats', { vmId: 'db' });
    }
    expect(s.doorbells).toBe(3);
    expect(s.devices.find((d) => d.device === 'virtio_mmio@10001000')!.writes).toBe(3);
    await io.call('DetachVm', { vmId: 'db' });
  });
});
