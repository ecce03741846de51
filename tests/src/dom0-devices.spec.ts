// Device setup and teardown between dom0 and io-backend as Xen's xenbus does it: each end
// writes its XenbusState under vm.<id>.device.<dev>.{frontend,backend} in KV and watches
// the other's. The test watches the same keys and checks the order of every step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDeviceEnd, encodeDeviceEnd, kvKeys, parseDeviceKey, type Bus, type KV } from '@splitvisor/bus';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { dom0Client, rpcError, testBus, vmYaml, waitFor, type Dom0 } from './dom0-helpers.js';

let t: TestLab;
let c: Dom0;
let bus: Bus;
let kv: KV;
/** Every device-key change since the watch began: "<vm> <dev> <end> <state> <by>", DEL for deletes. */
const seen: string[] = [];

beforeAll(async () => {
  t = await startTestLab();
  c = dom0Client(t.addresses.dom0);
  bus = await testBus(t.natsUrl);
  kv = await bus.kv();
  const w = await kv.watch({ key: kvKeys.allDevices, include: 'updates' });
  void (async () => {
    for await (const e of w) {
      const k = parseDeviceKey(e.key);
      if (!k) continue;
      const v = e.operation === 'PUT' ? decodeDeviceEnd(e.value) : undefined;
      seen.push(`${k.vm} ${k.dev} ${k.end} ${v ? `${v.state} ${v.by}` : 'DEL'}`);
    }
  })();
});
afterAll(async () => {
  c?.close();
  await bus?.drain();
  await t?.teardown();
});

const of = (vm: string, dev: string) => seen.filter((s) => s.startsWith(`${vm} ${dev} `)).map((s) => s.slice(vm.length + dev.length + 2));

describe('the xenbus handshake in KV', () => {
  it('create: each device goes Initialising -> InitWait -> Initialised -> Connected, in that order', async () => {
    await c.call('CreateVm', vmYaml('xb'));
    for (const dev of ['uart0', 'sifive_test']) {
      expect(of('xb', dev)).toEqual([
        'frontend Initialising dom0',
        'backend Initialising dom0',
        'backend InitWait io-backend',
        'frontend Initialised dom0',
        'backend Connected io-backend',
        'frontend Connected dom0',
      ]);
    }
  });

  it('shutdown: Closing and Closed on both ends (the backend flushes and detaches), then the keys go', async () => {
    await c.call('StartVm', { name: 'xb' });
    const before = seen.length;
    await c.call('ShutdownVm', { name: 'xb', timeoutMs: 5000 });
    await waitFor('the keys to go', () => seen.slice(before).filter((s) => s.endsWith('DEL')).length === 4 || undefined);
    for (const dev of ['uart0', 'sifive_test']) {
      expect(of('xb', dev).slice(6)).toEqual([
        'frontend Closing dom0',
        'backend Closing io-backend',
        'frontend Closed dom0',
        'backend Closed io-backend',
        'frontend DEL',
        'backend DEL',
      ]);
    }
    expect(await kv.get(kvKeys.vmDevice('xb', 'uart0', 'backend')).then((e) => e?.operation)).not.toBe('PUT');
  });

  it('a device the backend does not have: it answers Closed with the reason, and holds nothing', async () => {
    await kv.put(kvKeys.vmDevice('stray', 'nosuch', 'frontend'), encodeDeviceEnd({ state: 'Initialising', by: 'test', at: Date.now() }));
    await kv.put(kvKeys.vmDevice('stray', 'nosuch', 'backend'), encodeDeviceEnd({ state: 'Initialising', by: 'test', at: Date.now() }));
    const v = await waitFor('the backend to answer', async () => {
      const e = await kv.get(kvKeys.vmDevice('stray', 'nosuch', 'backend'));
      const d = e ? decodeDeviceEnd(e.value) : undefined;
      return d?.state === 'Closed' ? d : undefined;
    });
    expect(v).toMatchObject({ by: 'io-backend', error: expect.stringMatching(/io-backend has no device "nosuch" \(it has .*uart0/) });
  });

  it('io-backend gone: create fails naming the device and io-backend; a teardown does not wait for it', async () => {
    await c.call('CreateVm', vmYaml('orphan'));
    await t.lab.signalService('io-backend', 'SIGKILL');
    const t0 = Date.now();
    await c.call('DestroyVm', { name: 'orphan' });
    expect(Date.now() - t0).toBeLessThan(3000);
    const e = await rpcError(c.call('CreateVm', vmYaml('late')));
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(
      /creating vm "late": device (uart0|sifive_test) of vm "late": io-backend did not answer the xenbus handshake within 5000 ms \(backend Initialising, waiting for InitWait or Closed\)/,
    );
    expect((await c.call('ListVms', {})).vms.map((v) => v.name)).not.toContain('late');
    await t.lab.startService('io-backend');
    expect((await c.call('CreateVm', vmYaml('late'))).state).toBe('created');
  });
});
