// The fault plane on NATS: a sender's table drops, delays (in order), duplicates, and a
// partition cuts the subjects between the two services it separates. Real nats-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IrqLineCodec, DoorbellCodec, type EventsV1 } from '@splitvisor/proto';
import { silentLogger, startTestNats, until, type TestNats } from '@splitvisor/testing';
import { FaultTable, type FaultSpec } from '@splitvisor/faults';
import { Bus, subjects } from './index.js';

let nats: TestNats;
let io: Bus;
let cpu: Bus;
const ioFaults = new FaultTable('io-backend');
const cpuFaults = new FaultTable('cpu');
beforeAll(async () => {
  nats = await startTestNats();
  io = await Bus.connect({ url: nats.url, name: 'io-backend', log: silentLogger(), faults: ioFaults });
  cpu = await Bus.connect({ url: nats.url, name: 'cpu', log: silentLogger(), faults: cpuFaults });
});
afterAll(async () => {
  ioFaults.remove();
  cpuFaults.remove();
  await io?.drain();
  await cpu?.drain();
  await nats?.stop();
});

function fault(over: Partial<FaultSpec>): FaultSpec {
  return {
    id: 'f1',
    link: 'irq:*',
    kind: 'latency',
    latencyMs: 0,
    jitterMs: 0,
    probability: 0,
    bytesPerSecond: 0,
    expiresAtMs: Date.now() + 60_000,
    seed: 3,
    ...over,
  };
}

async function irqs(vm: string, n: number, faults: FaultSpec[]): Promise<{ line: number; at: number }[]> {
  const got: { line: number; at: number }[] = [];
  const un = cpu.subscribe(subjects.irq(vm), IrqLineCodec, (m: EventsV1.IrqLine__Output) => got.push({ line: m.irq, at: performance.now() }));
  await cpu.nc.flush();
  ioFaults.replace(faults);
  try {
    for (let line = 1; line <= n; line++) io.publish(subjects.irq(vm), IrqLineCodec, { vmId: vm, irq: line, level: true });
    // Room for the latest release (250 ms) on a loaded machine.
    await new Promise((r) => setTimeout(r, 1500));
    return got;
  } finally {
    ioFaults.remove();
    un();
  }
}

describe('bus fault plane', () => {
  it('drop takes the share the seed says, on the VM it names only', async () => {
    const got = await irqs('vm1', 400, [fault({ link: 'irq:vm1', kind: 'drop', probability: 0.25 })]);
    expect(got.length).toBeGreaterThan(400 * 0.68);
    expect(got.length).toBeLessThan(400 * 0.82);
    expect(await irqs('vm2', 50, [fault({ link: 'irq:vm1', kind: 'drop', probability: 0.25 })])).toHaveLength(50);
  });

  it('latency delays every message, in order; duplicate sends some twice', async () => {
    const t0 = performance.now();
    const late = await irqs('vm3', 20, [fault({ latencyMs: 150, jitterMs: 100 })]);
    expect(late.map((m) => m.line)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(late[0]!.at - t0).toBeGreaterThanOrEqual(45);
    const twice = await irqs('vm4', 100, [fault({ kind: 'duplicate', probability: 0.5 })]);
    expect(twice.length).toBeGreaterThan(120);
    expect(new Set(twice.map((m) => m.line)).size).toBe(100);
  });

  it('reorder holds some messages back out of order; every one arrives once', async () => {
    const got = await irqs('vm5', 60, [fault({ kind: 'reorder', probability: 0.3, latencyMs: 40 })]);
    const lines = got.map((m) => m.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // Those held back came after later ones (seed 3 holds back about a third of them).
    const overtaken = lines.filter((l, i) => lines.slice(0, i).some((earlier) => earlier > l));
    expect(overtaken.length).toBeGreaterThan(8);
    expect(overtaken.length).toBeLessThan(30);
  });

  it('a latency on one subject holds up no other', async () => {
    const got: { what: string; at: number }[] = [];
    const un1 = cpu.subscribe(subjects.irq('slow'), IrqLineCodec, () => got.push({ what: 'irq', at: performance.now() }));
    const un2 = cpu.subscribe(subjects.irq('fast'), IrqLineCodec, () => got.push({ what: 'other', at: performance.now() }));
    await cpu.nc.flush();
    ioFaults.replace([fault({ link: 'irq:slow', latencyMs: 400 })]);
    try {
      const t0 = performance.now();
      io.publish(subjects.irq('slow'), IrqLineCodec, { vmId: 'slow', irq: 1, level: true });
      io.publish(subjects.irq('fast'), IrqLineCodec, { vmId: 'fast', irq: 1, level: true });
      await until(() => got.length === 2, 'both lines', 3000);
      expect(got.map((g) => g.what)).toEqual(['other', 'irq']);
      expect(got[0]!.at - t0).toBeLessThan(300);
      expect(got[1]!.at - t0).toBeGreaterThanOrEqual(395);
    } finally {
      ioFaults.remove();
      un1();
      un2();
    }
  });

  it('a partition cpu:io-backend drops the cpu’s doorbells and io-backend’s lines; acked sends fail at their deadline naming it', async () => {
    const p = fault({ id: 'p1', link: 'cpu:io-backend', kind: 'partition' });
    expect(await irqs('vm5', 10, [p])).toHaveLength(0);
    const heard: number[] = [];
    const un = io.subscribe(subjects.doorbell('vm5'), DoorbellCodec, (d: EventsV1.Doorbell__Output) => heard.push(Number(d.value)));
    await io.nc.flush();
    cpuFaults.replace([p]);
    try {
      await expect(cpu.publishAcked(subjects.doorbell('vm5'), DoorbellCodec, { vmId: 'vm5', addr: 0x10001050, value: 1 }, 500, 100)).rejects.toThrow(
        /^sv\.vm\.vm5\.doorbell: no subscriber acknowledged the message within 500 ms \(\d+ attempts; last: TIMEOUT \(dropped by fault p1 \(partition cpu:io-backend, /,
      );
      cpuFaults.remove();
      await cpu.publishAcked(subjects.doorbell('vm5'), DoorbellCodec, { vmId: 'vm5', addr: 0x10001050, value: 2 }, 2000);
      await until(() => heard.includes(2), 'the doorbell after the partition', 2000);
      expect(heard).toEqual([2]);
    } finally {
      cpuFaults.remove();
      un();
    }
  });
});
