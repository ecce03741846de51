// A cpu node killed alone (kill -9: no exit event is published): dom0 sees its health
// stream end and applies on_crash to the VMs that ran there, saying the node died, instead
// of showing them `running` for ever. VMs on other nodes run on.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { protos, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { dom0Client, IDLE, kinds, rpcError, storedEvents, vmYaml, waitFor, waitForState } from './dom0-helpers.js';

let t: TestLab | undefined;
afterEach(async () => {
  await t?.teardown();
  t = undefined;
});

describe('kill -9 of a cpu node alone', () => {
  it('its VMs fail naming the node (on_crash=destroy) or start again on a live node (on_crash=restart); the others run on', async () => {
    t = await startTestLab({ cpuNodes: 2 });
    const [first, second] = t.lab.cpuAddresses;
    const c = dom0Client(t.addresses.dom0);
    try {
      await c.call('CreateVm', vmYaml('lost', '', IDLE));
      expect((await c.call('StartVm', { name: 'lost' })).node).toBe(first);
      await c.call('CreateVm', vmYaml('bystander', '', IDLE));
      expect((await c.call('StartVm', { name: 'bystander' })).node).toBe(second);
      await c.call('CreateVm', vmYaml('phoenix', 'on_crash: restart\n', IDLE));
      expect((await c.call('StartVm', { name: 'phoenix' })).node).toBe(first);

      expect(await t.lab.signalService('cpu', 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

      const lost = await waitForState(c, 'lost', ['failed']);
      expect(lost.reason).toMatch(new RegExp(`^cpu node ${first!.replace(/\./g, '\\.')} died \\(its health stream ended: .+\\) and does not answer$`));
      expect(kinds(await storedEvents(c, 'lost')).at(-1)).toBe('FAILED dom0');
      // Released: mmu and io-backend no longer hold it.
      const mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, t.addresses.mmu);
      const io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, t.addresses['io-backend']);
      try {
        expect((await rpcError(mmu.call('GetVmStats', { vmId: 'lost' }))).code).toBe('NOT_FOUND');
        expect((await rpcError(io.call('GetVmStats', { vmId: 'lost' }))).code).toBe('NOT_FOUND');
      } finally {
        mmu.close();
        io.close();
      }

      const phoenix = await waitFor('phoenix booted a second time', async () => {
        const v = await c.call('GetVm', { name: 'phoenix' });
        return v.boots === 2 && v.state === 'running' ? v : undefined;
      });
      expect(phoenix).toMatchObject({ state: 'running', node: second, boots: 2 });
      expect(phoenix.reason).toMatch(/^restarted: cpu node \S+ died \(.+\) and does not answer \(on_crash=restart\)$/);
      expect(await c.call('GetVm', { name: 'bystander' })).toMatchObject({ state: 'running', node: second, boots: 1 });
    } finally {
      c.close();
    }
  }, 60_000);
});
