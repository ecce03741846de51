import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleOutputCodec, IrqLevelsCodec, IrqQueryCodec, LifecycleEventCodec, type EventsV1 } from '@splitvisor/proto';
import { silentLogger, startTestNats, until, type TestNats } from '@splitvisor/testing';
import { parseVmId } from '@splitvisor/platform';
import { Bus, kvKeys, lifecycleOfSubject, streams, subjects, vmOfSubject } from './index.js';

let nats: TestNats;
let a: Bus;
let b: Bus;
beforeAll(async () => {
  nats = await startTestNats();
  a = await Bus.connect({ url: nats.url, name: 'a', log: silentLogger() });
  b = await Bus.connect({ url: nats.url, name: 'b', log: silentLogger() });
  await a.ensureStreams();
});
afterAll(async () => {
  await a?.drain();
  await b?.drain();
  await nats?.stop();
});

describe('subjects', () => {
  it('refuses VM ids that would break a subject', () => {
    expect(() => subjects.consoleOut('a.b')).toThrow(/vm id: "a.b" must be 1-63 characters/);
    expect(() => subjects.lifecycle('*', 'cpu')).toThrow(/"\*"/);
    expect(() => parseVmId('')).toThrow();
    expect(subjects.consoleOut('web-1')).toBe('sv.vm.web-1.console.out');
    expect(vmOfSubject('sv.vm.web-1.lifecycle.cpu')).toBe('web-1');
    // A lifecycle subject names the VM and who reported; nothing else is one.
    expect(lifecycleOfSubject(subjects.lifecycle('web-1', 'io-backend'))).toEqual({ vm: 'web-1', source: 'io-backend' });
    for (const s of ['sv.vm.web-1.lifecycle', 'sv.vm.web-1.lifecycle.mmu', 'sv.vm.web-1.lifecycle.cpu.x', 'sv.vm.web-1.console.out', 'sv.vm..lifecycle.cpu']) {
      expect(lifecycleOfSubject(s), s).toBeUndefined();
    }
    expect(kvKeys.vmState('web-1')).toBe('vm.web-1.state');
  });
});

describe('bus over a real nats-server', () => {
  it('delivers typed core messages and drops malformed ones', async () => {
    const got: EventsV1.LifecycleEvent__Output[] = [];
    const unsub = b.subscribe(subjects.allLifecycle, LifecycleEventCodec, (m) => got.push(m));
    await b.nc.flush();
    a.nc.publish(subjects.lifecycle('x', 'cpu'), Uint8Array.from([0xff, 0xff, 0xff]));
    a.publish(subjects.lifecycle('x', 'cpu'), LifecycleEventCodec, { vmId: 'x', kind: 'LIFECYCLE_STARTED', source: 'test' });
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ vmId: 'x', kind: 'LIFECYCLE_STARTED', source: 'test' });
    unsub();
  });

  it('keeps console history for a late reader, in order, then follows live', async () => {
    for (const s of ['one ', 'two ', 'three ']) {
      await a.publishDurable(subjects.consoleOut('late'), ConsoleOutputCodec, { vmId: 'late', data: Buffer.from(s) });
    }
    let text = '';
    const stop = await b.replay(streams.console, subjects.consoleOut('late'), ConsoleOutputCodec, (m) => {
      text += Buffer.from(m.data).toString();
    });
    await until(() => text === 'one two three ');
    await a.publishDurable(subjects.consoleOut('late'), ConsoleOutputCodec, { vmId: 'late', data: Buffer.from('live') });
    await until(() => text === 'one two three live');
    stop();
  });

  it('stores state in KV under the xenstore-like tree', async () => {
    const kv = await a.kv();
    await kv.put(kvKeys.vmState('k1'), 'running');
    const kvB = await b.kv();
    const e = await kvB.get(kvKeys.vmState('k1'));
    expect(e?.string()).toBe('running');
  });
});

describe('request/reply', () => {
  it('serves typed requests and names the subject when nobody answers', async () => {
    const stop = a.serve(subjects.irqQuery('rr'), IrqQueryCodec, IrqLevelsCodec, (q) => ({
      vmId: q.vmId,
      lines: [{ vmId: q.vmId, irq: 10, level: true, seq: 3 }],
    }));
    await a.nc.flush();
    const res = await b.request(subjects.irqQuery('rr'), IrqQueryCodec, { vmId: 'rr' }, IrqLevelsCodec);
    expect(res.lines).toEqual([{ vmId: 'rr', irq: 10, level: true, seq: 3 }]);
    stop();
    await a.nc.flush();
    await expect(b.request(subjects.irqQuery('rr'), IrqQueryCodec, { vmId: 'rr' }, IrqLevelsCodec, 300)).rejects.toThrow(
      /request on sv\.vm\.rr\.irq\.query failed/,
    );
  });
});
