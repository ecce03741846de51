import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, subjects } from '@splitvisor/bus';
import { IrqLevelsCodec, IrqLineCodec, IrqQueryCodec } from '@splitvisor/proto';
import { silentLogger, startTestNats, until, type TestNats } from '@splitvisor/testing';
import { IrqLineFollower } from './irq-lines.js';
import { natsIrqLines } from './ports/index.js';

/** The levels as the vCPU would see them, and a count of the changes among them. */
function levelSink() {
  const levels = new Int32Array(96);
  const sink = {
    changes: 0,
    setIrqLevel(irq: number, level: boolean) {
      const v = level ? 1 : 0;
      if (levels[irq] !== v) sink.changes++;
      levels[irq] = v;
    },
  };
  return { levels, sink };
}

let nats: TestNats;
let dev: Bus;
let cpu: Bus;
beforeAll(async () => {
  nats = await startTestNats();
  dev = await Bus.connect({ url: nats.url, name: 'dev', log: silentLogger() });
  cpu = await Bus.connect({ url: nats.url, name: 'cpu', log: silentLogger() });
});
afterAll(async () => {
  await dev?.drain();
  await cpu?.drain();
  await nats?.stop();
});

describe('IRQ lines as level state', () => {
  it('starts from the levels the backend reports, then follows changes in order', async () => {
    const stopServe = dev.serve(subjects.irqQuery('v'), IrqQueryCodec, IrqLevelsCodec, () => ({
      vmId: 'v',
      lines: [
        { vmId: 'v', irq: 10, level: true, seq: 4 },
        { vmId: 'v', irq: 1, level: true, seq: 4 },
      ],
    }));
    await dev.nc.flush();
    const { levels, sink } = levelSink();
    const f = new IrqLineFollower(natsIrqLines(cpu, 'v'), sink, silentLogger());
    await f.start();
    expect([levels[10], levels[1], levels[2]]).toEqual([1, 1, 0]);
    // A stale event (seq 3) must not undo the snapshot; a newer one (5) applies.
    dev.publish(subjects.irq('v'), IrqLineCodec, { vmId: 'v', irq: 10, level: false, seq: 3 });
    dev.publish(subjects.irq('v'), IrqLineCodec, { vmId: 'v', irq: 1, level: false, seq: 5 });
    await until(() => levels[1] === 0);
    expect(levels[10]).toBe(1);
    expect(sink.changes).toBe(3);
    // Out-of-range sources are refused, not written past the array.
    dev.publish(subjects.irq('v'), IrqLineCodec, { vmId: 'v', irq: 200, level: true, seq: 6 });
    dev.publish(subjects.irq('v'), IrqLineCodec, { vmId: 'v', irq: 2, level: true, seq: 7 });
    await until(() => levels[2] === 1);
    f.stop();
    stopServe();
  });

  it("keeps a line's change that arrives after a newer change of another line (an MMIO reply overtaking NATS)", async () => {
    const stopServe = dev.serve(subjects.irqQuery('w'), IrqQueryCodec, IrqLevelsCodec, () => ({ vmId: 'w', lines: [] }));
    await dev.nc.flush();
    const { levels, sink } = levelSink();
    const f = new IrqLineFollower(natsIrqLines(cpu, 'w'), sink, silentLogger());
    await f.start();
    // virtio-blk's completion raised line 8 (change 10, on its way by NATS); the guest's
    // next UART access moved line 10 (change 11), and its reply came back first.
    f.apply({ irq: 10, level: true, seq: 11 });
    dev.publish(subjects.irq('w'), IrqLineCodec, { vmId: 'w', irq: 8, level: true, seq: 10 });
    dev.publish(subjects.irq('w'), IrqLineCodec, { vmId: 'w', irq: 10, level: true, seq: 11 });
    await until(() => levels[8] === 1);
    expect(levels[10]).toBe(1);
    // Per line, an older change still loses to a newer one, whichever path brought it.
    f.apply({ irq: 8, level: false, seq: 12 });
    f.apply({ irq: 8, level: true, seq: 10 });
    expect(levels[8]).toBe(0);
    expect(sink.changes).toBe(3);
    f.stop();
    stopServe();
  });

  it('after a gap, asks again until the device backend is back on NATS (a NATS restart reconnects everyone in any order)', async () => {
    const real = natsIrqLines(cpu, 'late');
    let gap = () => undefined as void;
    // The real NATS source; only the gap is ours to signal.
    const source = { follow: real.follow.bind(real), current: real.current.bind(real), onGap: (fn: () => void) => ((gap = fn), () => undefined) };
    const sink = levelSink();
    const g = new IrqLineFollower(source, sink.sink, silentLogger());
    await g.start();
    expect(sink.levels[8]).toBe(0);
    // The gap comes while nobody answers the question; the device is back 400 ms later, its
    // line high since a rise published while this end was away.
    gap();
    await new Promise((r) => setTimeout(r, 400));
    const stopServe = dev.serve(subjects.irqQuery('late'), IrqQueryCodec, IrqLevelsCodec, () => ({
      vmId: 'late',
      lines: [{ vmId: 'late', irq: 8, level: true, seq: 9 }],
    }));
    await dev.nc.flush();
    await until(() => sink.levels[8] === 1);
    g.stop();
    stopServe();
  });

  it('starts with all lines low when no backend answers', async () => {
    const { levels, sink } = levelSink();
    const f = new IrqLineFollower(natsIrqLines(cpu, 'lonely'), sink, silentLogger());
    await f.start();
    expect(levels.every((v) => v === 0)).toBe(true);
    f.stop();
  });
});
