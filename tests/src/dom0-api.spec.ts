// dom0's API end to end, good input and bad: every call against real cpu, mmu and
// io-backend processes, the ticker guest as a VM that lives until told otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protos, type CpuV1, type IoV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { ConsoleTap, crashImage, dom0Client, kinds, rpcError, storedEvents, vmYaml, waitFor, waitForState, type Dom0 } from './dom0-helpers.js';

let t: TestLab;
let c: Dom0;
let cpu: RpcClient<CpuV1.CpuClient>;
let mmu: RpcClient<MmuV1.MmuClient>;
let io: RpcClient<IoV1.IoBackendClient>;

beforeAll(async () => {
  // A pool smaller than some VM asks for: "host memory exhausted" is a real answer.
  t = await startTestLab({ serviceEnv: { mmu: { SPLITVISOR_MMU_POOL_MIB: '512' } } });
  c = dom0Client(t.addresses.dom0);
  cpu = new RpcClient<CpuV1.CpuClient>(protos().cpu.Cpu, t.addresses.cpu);
  mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, t.addresses.mmu);
  io = new RpcClient<IoV1.IoBackendClient>(protos().io.IoBackend, t.addresses['io-backend']);
});
afterAll(async () => {
  for (const x of [c, cpu, mmu, io]) x?.close();
  await t?.teardown();
});

/** Which of cpu, mmu and io-backend still hold the VM. */
async function holders(name: string): Promise<string[]> {
  const held = await Promise.all([
    cpu.call('GetVmStats', { vmId: name }).then(
      () => 'cpu',
      () => '',
    ),
    mmu.call('GetVmStats', { vmId: name }).then(
      () => 'mmu',
      () => '',
    ),
    io.call('GetVmStats', { vmId: name }).then(
      () => 'io-backend',
      () => '',
    ),
  ]);
  return held.filter(Boolean);
}

describe('bad input', () => {
  it('refuses a malformed config naming the field (INVALID_ARGUMENT) and creates nothing', async () => {
    for (const [yaml, msg] of [
      ['name: bad\nmemory: lots\nimage: x\n', /bad.yaml: memory: "lots" is not a size like 64M/],
      ['name: bad\nmemory: 4M\nimage: ./nope.elf\n', /nope.elf: no such file/],
      ['name: bad\nmemory: 4M\nimage: x\non_crash: reboot\n', /bad.yaml: on_crash: "reboot" is not one of destroy, restart, preserve/],
      ['name: [bad\n', /bad.yaml: yaml: not valid YAML/],
      // A monitored mode with an M-mode image: the field and what the mode wants instead.
      ['name: bad\nmemory: 4M\nimage: x\nmode: pv\n', /^bad\.yaml: image: is entered in M-mode, which mode: pv keeps for the hypervisor/],
      [
        'name: bad\nmemory: 4M\nimage: x\nmode: vtx\n',
        /^bad\.yaml: mode: "vtx" is not a mode \(modes: emulate, hw, trap, pv; this build has emulate, hw, trap, pv\)$/,
      ],
      // The H extension: only for the guest's own hypervisor (issue 13), each bad value named.
      ['name: bad\nmemory: 4M\nmode: hw\nkernel: x\ncpu: { h: true }\n', /^bad\.yaml: cpu\.h: the H extension needs mode: emulate; mode "hw"'s monitor/],
      ['name: bad\nmemory: 4M\nimage: x\ncpu: { h: 1 }\n', /^bad\.yaml: cpu\.h: expected true or false, got 1$/],
    ] as const) {
      const e = await rpcError(c.call('CreateVm', { configYaml: yaml, baseDir: '/tmp', source: 'bad.yaml' }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(msg);
    }
    expect((await c.call('ListVms', {})).vms.map((v) => v.name)).not.toContain('bad');
  });

  it('answers NOT_FOUND for a VM that does not exist, on every call', async () => {
    for (const method of ['GetVm', 'StartVm', 'PauseVm', 'ResumeVm', 'RebootVm', 'DestroyVm', 'GetStats'] as const) {
      const e = await rpcError(c.call(method, { name: 'ghost' }));
      expect(e.code, method).toBe('NOT_FOUND');
      expect(e.message, method).toBe('no vm named "ghost"');
    }
    expect((await rpcError(c.call('ShutdownVm', { name: 'ghost', timeoutMs: 0 }))).code).toBe('NOT_FOUND');
    const tap = new ConsoleTap(c, 'ghost');
    await waitFor('the console to be refused', () => tap.error);
    expect(tap.error).toMatchObject({ code: 'NOT_FOUND', message: 'no vm named "ghost"' });
  });

  it('refuses host memory it does not have (RESOURCE_EXHAUSTED), leaving nothing behind', async () => {
    const e = await rpcError(c.call('CreateVm', vmYaml('huge', '', undefined, '1G')));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(e.message).toMatch(/creating vm "huge": .*1024 MiB/);
    expect((await c.call('ListVms', {})).vms.map((v) => v.name)).not.toContain('huge');
    expect(await holders('huge')).toEqual([]);
  });

  it('refuses a duplicate name (ALREADY_EXISTS) while the first one lives', async () => {
    await c.call('CreateVm', vmYaml('dup'));
    const e = await rpcError(c.call('CreateVm', vmYaml('dup')));
    expect(e.code).toBe('ALREADY_EXISTS');
    expect(e.message).toBe('a vm named "dup" already exists and is created');
    await c.call('DestroyVm', { name: 'dup' });
  });

  it('refuses illegal transitions with FAILED_PRECONDITION naming the state', async () => {
    await c.call('CreateVm', vmYaml('fsm'));
    const cases = [
      ['PauseVm', 'vm "fsm" is created; pause needs it to be running'],
      ['ResumeVm', 'vm "fsm" is created; resume needs it to be paused'],
      ['RebootVm', 'vm "fsm" is created; reboot needs it to be running or paused'],
    ] as const;
    for (const [method, msg] of cases) {
      const e = await rpcError(c.call(method, { name: 'fsm' }));
      expect(e.code).toBe('FAILED_PRECONDITION');
      expect(e.message).toBe(msg);
    }
    expect((await rpcError(c.call('ShutdownVm', { name: 'fsm', timeoutMs: 0 }))).message).toBe(
      'vm "fsm" is created; shutdown needs it to be running or paused',
    );
    await c.call('StartVm', { name: 'fsm' });
    expect((await rpcError(c.call('StartVm', { name: 'fsm' }))).message).toBe('vm "fsm" is running; start needs it to be created or stopped or failed');
    expect((await rpcError(c.call('ResumeVm', { name: 'fsm' }))).message).toBe('vm "fsm" is running; resume needs it to be paused');
    await c.call('PauseVm', { name: 'fsm' });
    expect((await rpcError(c.call('PauseVm', { name: 'fsm' }))).message).toBe('vm "fsm" is paused; pause needs it to be running');
    await c.call('DestroyVm', { name: 'fsm' });
    expect((await rpcError(c.call('DestroyVm', { name: 'fsm' }))).code).toBe('NOT_FOUND');
  });
});

describe('a VM through its life', () => {
  it('create: placed, images loaded, devices attached; GetVm has the config and the policies', async () => {
    const v = await c.call('CreateVm', vmYaml('life'));
    expect(v).toMatchObject({
      name: 'life',
      state: 'created',
      node: t.addresses.cpu,
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'destroy',
      boots: 0,
      uptimeSeconds: 0,
      mode: 'emulate',
    });
    const got = await c.call('GetVm', { name: 'life' });
    expect(JSON.parse(got.configJson)).toMatchObject({ name: 'life', memoryBytes: 16 << 20, vcpus: 1, mode: 'emulate', onReboot: 'restart' });
    expect(await holders('life')).toEqual(['mmu', 'io-backend']);
  });

  it('start: the guest ticks; GetStats has the exit table, memory and devices', async () => {
    const v = await c.call('StartVm', { name: 'life' });
    expect(v).toMatchObject({ state: 'running', boots: 1 });
    const tap = new ConsoleTap(c, 'life');
    await tap.waitFor(/ticker: boot\r\ntick 1\r\ntick 2\r\ntick 3\r\n/);
    tap.close();
    const s = await c.call('GetStats', { name: 'life' });
    expect(s.notes).toEqual([]);
    const exits = Object.fromEntries(s.cpu!.exits.map((e) => [e.reason, e.count]));
    expect(exits['mmio-coalesced']).toBeGreaterThan(20); // THR bytes, posted instead of exits
    expect(exits['wfi']).toBeGreaterThan(0);
    // The mode monitors' rows are in the table from the start, 0 in emulate.
    for (const r of ['priv-insn', 'sbi-call', 'shadow-fault', 'guest-page-fault', 'virq-inject', 'vtrap']) expect(exits[r], r).toBe(0);
    expect(s.cpu!.mode).toBe('emulate');
    // The cpu's MMIO exits by device: the UART's LSR reads come from the read shadow (the
    // first exits, and brings the grant), its THR bytes are posted.
    const uart = s.cpu!.devices.find((d) => d.device === 'serial@0x10000000')!;
    expect(uart.reads).toBeGreaterThan(0);
    expect(uart.shadowed).toBeGreaterThan(20);
    expect(exits['mmio-shadowed']).toBeGreaterThan(20);
    expect(uart.posted).toBeGreaterThan(20);
    expect(s.cpu!.instret).toBeGreaterThan(100);
    expect(s.memory!.residentBytes).toBeGreaterThan(0);
    expect(s.memory!.limitBytes).toBe(16 << 20);
    expect(s.devices!.ioOps).toBeGreaterThan(20);
    expect(s.devices!.consoleBytesOut).toBeGreaterThan(20);
    expect((await c.call('GetVm', { name: 'life' })).uptimeSeconds).toBeGreaterThan(0);
  });

  it('pause parks the vCPU (no tick, no instruction); resume goes on from the next tick', async () => {
    await c.call('PauseVm', { name: 'life' });
    const a = await c.call('GetStats', { name: 'life' });
    expect(a.state).toBe('paused');
    expect(a.cpu!.paused).toBe(true);
    const tap = new ConsoleTap(c, 'life');
    await tap.waitFor(/tick 3\r\n/);
    await tap.settle();
    const before = tap.text;
    await new Promise((r) => setTimeout(r, 400));
    const b = await c.call('GetStats', { name: 'life' });
    expect(b.cpu!.instret).toBe(a.cpu!.instret);
    expect(tap.text).toBe(before);
    await c.call('ResumeVm', { name: 'life' });
    // The pause may have cut a line in two; resumed, the guest finishes it and goes on.
    const last = tap.ticks().at(-1)!;
    await tap.waitFor(new RegExp(`tick ${last + 3}\\r\\n`));
    expect(tap.text.startsWith(before)).toBe(true);
    expect(tap.ticks()).toEqual(tap.ticks().map((_, i) => i + 1));
    tap.close();
  });

  it('reboot: same name and node, images reloaded, the guest boots again', async () => {
    const v = await c.call('RebootVm', { name: 'life' });
    expect(v).toMatchObject({ state: 'running', boots: 2, node: t.addresses.cpu, reason: 'restarted: rebooted by request' });
    const tap = new ConsoleTap(c, 'life');
    // The history runs on: the first boot's ticks, then a second boot from tick 1. Generous:
    // the reboot reloads the images through mmu, slow on a loaded 2-core machine.
    const secondBoot = /tick \d+(\r\n)?ticker: boot\r\ntick 1\r\ntick 2\r\n/;
    await tap.waitFor(secondBoot, 45_000).catch((e: Error) => {
      const boots = tap.text.split('ticker: boot').length - 1;
      throw new Error(`${e.message}; ${boots} "ticker: boot" line(s) in ${tap.text.length} bytes, which begin ${JSON.stringify(tap.text.slice(0, 120))}`);
    });
    expect(tap.text.startsWith('ticker: boot\r\ntick 1\r\n')).toBe(true);
    tap.close();
  });

  it('the guest asking for a reset restarts it (on_reboot=restart, the default)', async () => {
    const tap = new ConsoleTap(c, 'life');
    await tap.waitFor(/tick \d+\r\n$/);
    tap.send('r');
    await tap.waitFor(/ticker: reset\r\nticker: boot\r\ntick 1\r\n/);
    const v = await waitFor('boot 3', async () => {
      const x = await c.call('GetVm', { name: 'life' });
      return x.boots === 3 && x.state === 'running' ? x : undefined;
    });
    expect(v.reason).toMatch(/^restarted: guest wrote 0x7777 to sifive_test at 0x100000 \(on_reboot=restart\)$/);
    expect(tap.end).toBeUndefined();
    tap.close();
  });

  it('shutdown: orderly, everything released, the console flushed and ended', async () => {
    const tap = new ConsoleTap(c, 'life');
    await tap.waitFor(/tick \d+\r\n$/);
    const v = await c.call('ShutdownVm', { name: 'life', timeoutMs: 5000 });
    expect(v).toMatchObject({ state: 'stopped', reason: 'shut down by request', exitCode: 0 });
    const end = await tap.waitForEnd();
    expect(end).toMatchObject({ state: 'stopped', kind: 'LIFECYCLE_STOPPED', reason: 'shut down by request' });
    expect(await holders('life')).toEqual([]);
  });

  it('start after shutdown reloads the images and runs it again', async () => {
    const v = await c.call('StartVm', { name: 'life' });
    expect(v).toMatchObject({ state: 'running', boots: 4 });
    const tap = new ConsoleTap(c, 'life');
    await tap.waitFor(/ticker: boot\r\ntick 1\r\n$/m);
    tap.close();
  });

  it('every step is an event, in order, from JetStream', async () => {
    const evs = (await storedEvents(c, 'life')).filter((e) => e.source === 'dom0');
    expect(kinds(evs)).toEqual([
      'CREATED dom0',
      'STARTED dom0',
      'PAUSED dom0',
      'RESUMED dom0',
      'REBOOTING dom0',
      'STARTED dom0',
      'REBOOTING dom0',
      'STARTED dom0',
      'SHUTDOWN dom0',
      'STOPPED dom0',
      'STARTED dom0',
    ]);
    const all = await storedEvents(c, 'life');
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
    expect(kinds(all)).toContain('RESET io-backend');
  });

  it('destroy: immediate, forgotten, nothing held anywhere', async () => {
    const v = await c.call('DestroyVm', { name: 'life' });
    expect(v.state).toBe('destroyed');
    expect((await rpcError(c.call('GetVm', { name: 'life' }))).code).toBe('NOT_FOUND');
    expect(await holders('life')).toEqual([]);
  });
});

describe('policies, as xl', () => {
  it('on_reboot=destroy: a reset ends the VM, stopped, saying why', async () => {
    await c.call('CreateVm', vmYaml('rd', 'on_reboot: destroy\n'));
    const tap = new ConsoleTap(c, 'rd');
    await c.call('StartVm', { name: 'rd' });
    await tap.waitFor(/tick 1\r\n/);
    tap.send('r');
    const end = await tap.waitForEnd();
    expect(end).toMatchObject({ state: 'stopped', kind: 'LIFECYCLE_STOPPED', reason: expect.stringMatching(/0x7777 .*\(on_reboot=destroy\)$/) });
    expect(await holders('rd')).toEqual([]);
  });

  it("on_crash=destroy (default): the VM fails with the vCPU's reason", async () => {
    await c.call('CreateVm', vmYaml('cd'));
    const tap = new ConsoleTap(c, 'cd');
    await c.call('StartVm', { name: 'cd' });
    await tap.waitFor(/tick 1\r\n/);
    tap.send('c');
    const end = await tap.waitForEnd();
    expect(end.state).toBe('failed');
    expect(tap.text).toMatch(/ticker: crash\r\n$/);
    const v = await c.call('GetVm', { name: 'cd' });
    expect(v).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^fatal: /) });
    expect(await holders('cd')).toEqual([]);
  });

  it('on_crash=preserve: the vCPU stops, memory and devices stay until destroyed', async () => {
    await c.call('CreateVm', vmYaml('cp', 'on_crash: preserve\n'));
    const tap = new ConsoleTap(c, 'cp');
    await c.call('StartVm', { name: 'cp' });
    await tap.waitFor(/tick 1\r\n/);
    tap.send('c');
    const end = await tap.waitForEnd();
    expect(end).toMatchObject({ state: 'preserved', kind: 'LIFECYCLE_PRESERVED', reason: expect.stringMatching(/on_crash=preserve: memory and devices kept/) });
    expect(await holders('cp')).toEqual(['mmu', 'io-backend']);
    const s = await c.call('GetStats', { name: 'cp' });
    expect(s.cpu).toBeNull();
    expect(s.memory!.residentBytes).toBeGreaterThan(0);
    expect((await rpcError(c.call('StartVm', { name: 'cp' }))).code).toBe('FAILED_PRECONDITION');
    await c.call('DestroyVm', { name: 'cp' });
    expect(await holders('cp')).toEqual([]);
  });

  it('on_poweroff=preserve keeps a powered-off guest with its exit code', async () => {
    await c.call('CreateVm', vmYaml('pp', 'on_poweroff: preserve\n'));
    const tap = new ConsoleTap(c, 'pp');
    await c.call('StartVm', { name: 'pp' });
    await tap.waitFor(/tick 1\r\n/);
    tap.send('x');
    const end = await tap.waitForEnd();
    expect(end).toMatchObject({ state: 'preserved', exitCode: 1 });
    await c.call('DestroyVm', { name: 'pp' });
  });

  it('on_crash=restart restarts a crashed guest, and gives up on one that crashes at once', async () => {
    await c.call('CreateVm', vmYaml('cr', 'on_crash: restart\n'));
    const tap = new ConsoleTap(c, 'cr');
    await c.call('StartVm', { name: 'cr' });
    await tap.waitFor(/tick 1\r\n/);
    tap.send('c');
    await tap.waitFor(/ticker: crash\r\nticker: boot\r\ntick 1\r\n/);
    expect(await waitForState(c, 'cr', ['running'])).toMatchObject({ boots: 2, reason: expect.stringMatching(/^restarted: fatal: .*\(on_crash=restart\)$/) });
    tap.close();
    await c.call('DestroyVm', { name: 'cr' });

    await c.call('CreateVm', vmYaml('loop', 'on_crash: restart\n', crashImage(), '4M'));
    await c.call('StartVm', { name: 'loop' });
    const v = await waitForState(c, 'loop', ['failed'], 30_000);
    expect(v.reason).toMatch(/on_crash=restart gave up: 3 restarts each within 10 s of the boot/);
    expect(v.boots).toBe(4);
    expect(await holders('loop')).toEqual([]);
  });
});

describe('several VMs at once', () => {
  it('creates, starts, pauses and destroys four in parallel, each with its own console', async () => {
    const names = ['p0', 'p1', 'p2', 'p3'];
    await Promise.all(names.map((n) => c.call('CreateVm', vmYaml(n))));
    await Promise.all(names.map((n) => c.call('StartVm', { name: n })));
    const taps = names.map((n) => new ConsoleTap(c, n));
    await Promise.all(taps.map((tp) => tp.waitFor(/tick 3\r\n/)));
    await Promise.all(names.slice(0, 2).map((n) => c.call('PauseVm', { name: n })));
    const states = Object.fromEntries((await c.call('ListVms', {})).vms.filter((v) => names.includes(v.name)).map((v) => [v.name, v.state]));
    expect(states).toEqual({ p0: 'paused', p1: 'paused', p2: 'running', p3: 'running' });
    // Same guest, four consoles: each counts its own ticks from 1 with no gaps.
    for (const tp of taps) {
      const ticks = tp.ticks();
      expect(ticks.slice(0, 3)).toEqual([1, 2, 3]);
      expect(ticks).toEqual(ticks.map((_, i) => i + 1));
    }
    await Promise.all(names.map((n) => c.call('DestroyVm', { name: n })));
    await Promise.all(taps.map((tp) => tp.waitForEnd()));
    expect(taps.map((tp) => tp.end!.kind)).toEqual(names.map(() => 'LIFECYCLE_DESTROYED'));
    for (const n of names) expect(await holders(n)).toEqual([]);
  });
});
