// Where a starting dom0 takes up the lifecycle stream (follow.ts), on a real nats-server
// with JetStream: what a dom0 that died missed is handled by the next one, the first dom0
// ever replays nothing, and a record it cannot read is said.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Bus, subjects, streams, type KV } from '@splitvisor/bus';
import { LifecycleEventCodec, type EventsV1 } from '@splitvisor/proto';
import { createLogger } from '@splitvisor/log';
import { silentLogger, startTestNats, type TestNats } from '@splitvisor/testing';
import { PassThrough } from 'node:stream';
import { HANDLED_KEY, LifecycleFollower } from './follow.js';

let nats: TestNats;
let bus: Bus;
let kv: KV;

beforeAll(async () => {
  nats = await startTestNats();
  bus = await Bus.connect({ url: nats.url, name: 'dom0', log: silentLogger() });
  await bus.ensureStreams();
  kv = await bus.kv();
}, 60_000);
afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

/** A fresh stream and no record, as a lab that never ran a dom0. */
afterEach(async () => {
  await bus.purge(streams.lifecycle, subjects.allLifecycle);
  await kv.delete(HANDLED_KEY);
});

const poweroff = (vm: string) =>
  bus.publishDurable(subjects.lifecycle(vm, 'io-backend'), LifecycleEventCodec, { vmId: vm, kind: 'LIFECYCLE_POWEROFF', exitCode: 1, source: 'io-backend' });

/** A dom0's follower: the VMs whose events it handled, in order, and what it logged. */
function follower() {
  const handled: string[] = [];
  const logged = new PassThrough();
  let log = '';
  logged.on('data', (b: Buffer) => (log += b.toString()));
  const f = new LifecycleFollower(
    bus,
    kv,
    (ev: EventsV1.LifecycleEvent__Output) => {
      handled.push(ev.vmId);
      return Promise.resolve();
    },
    createLogger({ service: 'dom0', level: 'warn', destination: logged, pretty: false }),
  );
  return { f, handled, log: () => log };
}

describe('LifecycleFollower: where a starting dom0 takes up the lifecycle stream', () => {
  it('a dom0 that started on an empty stream and died before handling anything: the next one handles what came meanwhile', async () => {
    const first = follower();
    expect(await first.f.start()).toEqual({ replayedFrom: 0, upTo: 0 });
    expect((await kv.get(HANDLED_KEY))?.string()).toBe('0');
    // Killed before it handled anything: it reads no more, and its record stays 0 (stop()
    // saves only what was handled). A guest powers off while no dom0 is up.
    await first.f.stop();
    expect((await kv.get(HANDLED_KEY))?.string()).toBe('0');
    await poweroff('late');
    const second = follower();
    const caught = await second.f.start();
    expect(caught.replayedFrom).toBe(0);
    expect(caught.upTo).toBeGreaterThan(0);
    expect(second.handled).toEqual(['late']);
    await second.f.stop();
    expect(Number((await kv.get(HANDLED_KEY))?.string())).toBe(caught.upTo);
  });

  it('the first dom0 ever replays nothing, and records where the stream is', async () => {
    await poweroff('old');
    const first = follower();
    const caught = await first.f.start();
    expect(caught.replayedFrom).toBe(caught.upTo);
    expect(first.handled).toEqual([]);
    expect(Number((await kv.get(HANDLED_KEY))?.string())).toBe(caught.upTo);
    // What comes after is followed.
    await poweroff('new');
    await new Promise((r) => setTimeout(r, 300));
    expect(first.handled).toEqual(['new']);
    await first.f.stop();
  });

  it('a record that is not a sequence number is said, and following starts from the newest event', async () => {
    await poweroff('old');
    await kv.put(HANDLED_KEY, 'garbage');
    const d = follower();
    const caught = await d.f.start();
    expect(d.handled).toEqual([]);
    expect(caught.replayedFrom).toBe(caught.upTo);
    expect(d.log()).toMatch(/how far lifecycle events were handled is not a sequence number/);
    expect(d.log()).toMatch(/garbage/);
    await d.f.stop();
  });
});
