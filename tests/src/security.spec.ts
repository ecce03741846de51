// A secure lab: mutual TLS from a lab CA with one certificate per service, only dom0 on the
// admin APIs of cpu, mmu and io-backend, and NATS users with permissions per service. Each
// refusal is proven, not only each success.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  ConsoleOutputCodec,
  LifecycleEventCodec,
  ShadowRevokeAckCodec,
  ShadowRevokeCodec,
  protos,
  type CpuV1,
  type HealthV1,
  type IoV1,
  type MmuV1,
} from '@splitvisor/proto';
import { CALLER_KEY, RpcClient, RpcError, RpcServer, channelCredentials, loadTls, serverCredentials } from '@splitvisor/rpc';
import { Bus, CPU_NODE_KEYS, NODE_REGISTRY_BUCKET, encodeDeviceEnd, encodeNodeEntry, kvKeys, nodeKey, subjects, withCredentials } from '@splitvisor/bus';
import { NATS_PASSWORD_FILE, makeLabPki, silentLogger, startTestLab, type TestLab } from '@splitvisor/testing';
import { runCli } from './cli-runner.js';
import { ConsoleTap, rpcError, vmYaml, type Dom0 } from './dom0-helpers.js';

let t: TestLab;
const clients: { close(): void }[] = [];

/** A client of `server` at `addr` presenting `who`'s certificate (or none: plaintext). */
function client<C extends grpc.Client>(
  Ctor: new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => C,
  addr: string,
  who: string | undefined,
  server: string,
): RpcClient<C> {
  const c = new RpcClient<C>(
    Ctor,
    addr,
    who === undefined ? { credentials: grpc.credentials.createInsecure(), deadlineMs: 5000 } : { tls: t.lab.tls(who)!, server, deadlineMs: 5000 },
  );
  clients.push(c);
  return c;
}
const p = () => protos();
const cpuAs = (who: string | undefined) => client<CpuV1.CpuClient>(p().cpu.Cpu, t.addresses.cpu, who, 'cpu');
const mmuAs = (who: string | undefined) => client<MmuV1.MmuClient>(p().mmu.Mmu, t.addresses.mmu, who, 'mmu');
const ioAs = (who: string | undefined) => client<IoV1.IoBackendClient>(p().io.IoBackend, t.addresses['io-backend'], who, 'io-backend');
const dom0As = (who: string | undefined): Dom0 => client(p().dom0.Dom0, t.addresses.dom0, who, 'dom0');

/** A NATS connection as one of the lab's users. */
function busAs(user: string): Promise<Bus> {
  return Bus.connect({ url: t.lab.natsUrlFor(user), name: `test-${user}`, log: silentLogger(), connectTimeoutMs: 3000 });
}

/** NATS refuses a publish as a permissions violation (a request surfaces it). */
async function refusedOnNats(bus: Bus, subject: string): Promise<string> {
  try {
    await bus.nc.request(subject, new Uint8Array([1]), { timeout: 1500 });
  } catch (e) {
    return (e as Error).message;
  }
  return 'not refused';
}

beforeAll(async () => {
  t = await startTestLab({ secure: true });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await t?.teardown();
});

describe('a secure lab', () => {
  it('runs a VM through its whole life: dom0 reaches all it needs, every service its NATS subjects', async () => {
    const c = dom0As('cli');
    await c.call('CreateVm', vmYaml('sec'));
    await c.call('StartVm', { name: 'sec' });
    const tap = new ConsoleTap(c, 'sec');
    await tap.waitFor(/tick 3\r\n/);
    tap.send('r'); // reset: io-backend's event, dom0's restart, the xenbus handshake again
    await tap.waitFor(/ticker: reset\r\nticker: boot\r\ntick 1\r\n/);
    await c.call('PauseVm', { name: 'sec' });
    await c.call('ResumeVm', { name: 'sec' });
    const s = await c.call('GetStats', { name: 'sec' });
    expect(s.notes).toEqual([]);
    expect(s.cpu!.instret).toBeGreaterThan(0);
    tap.send('q');
    expect(await tap.waitForEnd()).toMatchObject({ state: 'stopped', exitCode: 0 });
    await c.call('DestroyVm', { name: 'sec' });
  });

  it('the CLI presents its certificate (SPLITVISOR_TLS_DIR) and is refused without one', async () => {
    const env = { SPLITVISOR_DOM0_ADDR: t.addresses.dom0, SPLITVISOR_NATS_URL: undefined };
    const ok = await runCli(['list'], { env: { ...env, SPLITVISOR_TLS_DIR: t.lab.security!.dir } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^NAME/);
    // Nothing on stderr (no DEP0123 for a TLS ServerName set to the IP it dials), so a
    // script reading 2>&1 gets the JSON alone.
    expect(ok.stderr).toBe('');
    const json = await runCli(['list', '--json'], { env: { ...env, SPLITVISOR_TLS_DIR: t.lab.security!.dir } });
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toBeInstanceOf(Object);
    const refused = await runCli(['list'], { env: { ...env, SPLITVISOR_TLS_DIR: undefined } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/UNAVAILABLE/);
  });
});

describe('mutual TLS refusals', () => {
  it('every service refuses a client with no certificate', async () => {
    for (const addr of [t.addresses.dom0, t.addresses.cpu, t.addresses.mmu, t.addresses['io-backend']]) {
      const h = client<HealthV1.HealthClient>(p().health.Health, addr, undefined, '');
      const e = await rpcError(h.call('Check', { service: '' }, { deadlineMs: 2000 }));
      expect(e.code, addr).toBe('UNAVAILABLE');
    }
    expect((await rpcError(cpuAs(undefined).call('StartVm', { vmId: 'x', ramBase: 0, ramSize: 0, entry: 0, dtbAddr: 0, vcpus: 1, clock: '' }))).code).toBe(
      'UNAVAILABLE',
    );
  });

  it('every service refuses a certificate from another CA, even one that says dom0', async () => {
    const rogue = mkdtempSync(join(tmpdir(), 'sv-rogue-'));
    // The lab's own names, from another CA.
    const forged = makeLabPki(rogue, { identities: ['dom0'], labId: t.lab.security!.labId, caName: 'Not the lab CA' });
    const creds = channelCredentials(loadTls(forged.dirs['dom0']!, 'dom0'));
    for (const addr of [t.addresses.dom0, t.addresses.cpu, t.addresses.mmu, t.addresses['io-backend']]) {
      const h = new RpcClient<HealthV1.HealthClient>(p().health.Health, addr, { credentials: creds, deadlineMs: 2000 });
      clients.push(h);
      expect((await rpcError(h.call('Check', { service: '' }))).code, addr).toBe('UNAVAILABLE');
    }
  });

  it('only dom0 may call the admin APIs of cpu, mmu and io-backend', async () => {
    const admin = {
      'cpu StartVm': (who: string) =>
        cpuAs(who).call('StartVm', { vmId: 'nope', ramBase: 0x80000000, ramSize: 4096, entry: 0x80000000, dtbAddr: 0, vcpus: 1, clock: '' }),
      'cpu StopVm': (who: string) => cpuAs(who).call('StopVm', { vmId: 'nope', reason: '' }),
      'cpu PauseVm': (who: string) => cpuAs(who).call('PauseVm', { vmId: 'nope' }),
      'cpu ResumeVm': (who: string) => cpuAs(who).call('ResumeVm', { vmId: 'nope' }),
      'mmu CreateVm': (who: string) => mmuAs(who).call('CreateVm', { vmId: 'nope', ramBase: 0x80000000, ramSize: 4096 }),
      'mmu ReleaseVm': (who: string) => mmuAs(who).call('ReleaseVm', { vmId: 'nope' }),
      'mmu LoadImage': (who: string) =>
        new Promise((resolve, reject) => {
          const m = mmuAs(who);
          const call = m.raw.LoadImage(new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
            err ? reject(RpcError.fromGrpc(err)) : resolve(res),
          );
          call.write({ vmId: 'nope', addr: 0x80000000, data: Buffer.alloc(8) });
          call.end();
        }),
      'io AttachVm': (who: string) => ioAs(who).call('AttachVm', { vmId: 'nope' }),
      'io DetachVm': (who: string) => ioAs(who).call('DetachVm', { vmId: 'nope' }),
    };
    for (const [what, call] of Object.entries(admin)) {
      for (const who of ['cpu', 'mmu', 'io-backend', 'cli']) {
        const e = await rpcError(call(who));
        expect(e.code, `${who} -> ${what}`).toBe('PERMISSION_DENIED');
        expect(e.message).toMatch(new RegExp(`^${who} may not call /splitvisor\\.\\w+\\.v1\\.\\w+/\\w+ \\(only dom0\\)$`));
      }
      // dom0 gets past the door (and then an answer about the VM that is not there).
      const e = await call('dom0').then(
        () => undefined,
        (x: unknown) => x as RpcError,
      );
      expect(e?.code, `dom0 -> ${what}`).not.toBe('PERMISSION_DENIED');
    }
  });

  it('the data plane calls only what its work needs, and nobody may pose as another', async () => {
    // Pages are the cpu's, MMIO exits too; DMA is the device backend's.
    expect((await rpcError(mmuAs('io-backend').call('FetchPages', { vmId: 'nope', gfn: 0x80000, count: 1, write: false, holder: '' }))).code).toBe(
      'PERMISSION_DENIED',
    );
    expect((await rpcError(ioAs('dom0').call('Mmio', { vmId: 'nope', vcpu: 0, addr: 0x10000000, size: 1, write: false, valueLo: 0, valueHi: 0 }))).code).toBe(
      'PERMISSION_DENIED',
    );
    expect((await rpcError(ioAs('cpu').call('Mmio', { vmId: 'nope', vcpu: 0, addr: 0x10000000, size: 1, write: false, valueLo: 0, valueHi: 0 }))).code).toBe(
      'NOT_FOUND',
    );
    expect((await rpcError(mmuAs('cpu').call('DmaRead', { vmId: 'nope', segments: [] }))).code).toBe('PERMISSION_DENIED');
    const posing = new grpc.Metadata();
    posing.set(CALLER_KEY, 'dom0');
    const e = await rpcError(mmuAs('io-backend').call('DmaRead', { vmId: 'nope', segments: [] }, { metadata: posing }));
    expect(e).toMatchObject({ code: 'PERMISSION_DENIED', message: 'io-backend may not call as "dom0"' });
    // The people's API is dom0's own: the CLI's certificate opens it, a service's does not.
    expect((await rpcError(dom0As('cpu').call('ListVms', {}))).code).toBe('PERMISSION_DENIED');
  });
});

describe('NATS users and permissions', () => {
  it('refuses a connection without a user, and one with a wrong password', async () => {
    await expect(connect({ servers: t.natsUrl, timeout: 2000, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    const wrong = t.lab.natsUrlFor('cpu').replace(/:[0-9a-f]+@/, ':wrong@');
    await expect(connect({ ...withCredentials(wrong), timeout: 2000, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    const right = await connect({ ...withCredentials(t.lab.natsUrlFor('cpu')), timeout: 2000, reconnect: false });
    await right.close();
  });

  it('io-backend may publish console bytes and IRQ lines, not console input, recalls, or VM state', async () => {
    const bus = await busAs('io-backend');
    try {
      await bus.publishDurable(subjects.consoleOut('natsvm'), ConsoleOutputCodec, { vmId: 'natsvm', data: Buffer.from('ok') });
      const kv = await bus.kv();
      await kv.put(kvKeys.vmDevice('natsvm', 'uart0', 'backend'), encodeDeviceEnd({ state: 'Closed', by: 'test', at: 0 }));
      for (const subject of [
        subjects.consoleIn('natsvm'),
        subjects.memRecall('natsvm', 'cpu'),
        '$KV.splitvisor.vm.natsvm.state',
        '$KV.splitvisor.vm.natsvm.device.uart0.frontend',
        // The fault plane's table is dom0's to publish: no service switches a fault on.
        subjects.faultTable,
      ]) {
        expect(await refusedOnNats(bus, subject), subject).toMatch(/Permissions Violation for Publish/);
      }
      await expect(kv.put(kvKeys.vmState('natsvm'), '{}')).rejects.toThrow(/Permissions Violation/);
      // Stored history is dom0's to purge, and the streams are dom0's to create and change:
      // no shrinking a stream's retention, no stream of one's own recording console input.
      const jsm = await jetstreamManager(bus.nc);
      await expect(jsm.streams.purge('CONSOLE')).rejects.toThrow(/Permissions Violation/);
      const consoleStream = await jsm.streams.info('CONSOLE');
      await expect(jsm.streams.update('CONSOLE', { ...consoleStream.config, max_msgs_per_subject: 1 })).rejects.toThrow(/Permissions Violation/);
      await expect(jsm.streams.add({ name: 'SNOOP', subjects: ['sv.vm.*.console.in'] })).rejects.toThrow(/Permissions Violation/);
      await expect(jsm.streams.delete('LIFECYCLE')).rejects.toThrow(/Permissions Violation/);
      expect((await jsm.streams.info('CONSOLE')).config.max_msgs_per_subject).toBe(consoleStream.config.max_msgs_per_subject);
    } finally {
      await bus.drain().catch(() => undefined);
    }
  });

  it('the cpu publishes no console bytes for any VM, and writes nothing in KV', async () => {
    const bus = await busAs('cpu');
    try {
      await expect(bus.publishDurable(subjects.consoleOut('natsvm'), ConsoleOutputCodec, { vmId: 'natsvm', data: Buffer.from('forged') })).rejects.toThrow(
        /Permissions Violation/,
      );
      await bus.publishDurable(subjects.lifecycle('natsvm', 'cpu'), LifecycleEventCodec, {
        vmId: 'natsvm',
        kind: 'LIFECYCLE_VCPU_EXITED',
        reason: 'test',
        source: 'cpu',
      });
      for (const subject of [subjects.consoleIn('natsvm'), subjects.irq('natsvm'), '$KV.splitvisor.vm.natsvm.device.uart0.backend', subjects.faultTable]) {
        expect(await refusedOnNats(bus, subject), subject).toMatch(/Permissions Violation for Publish/);
      }
    } finally {
      await bus.drain().catch(() => undefined);
    }
  });

  it('the cpu writes its node registry entry (cpu.* of splitvisor-nodes) and no other key; the others write none', async () => {
    const cpu = await busAs('cpu');
    try {
      // The lab's cpu registered itself as it started, under the cpu user.
      const kv = await cpu.nodeRegistry();
      const keys: string[] = [];
      for await (const k of await kv.keys(CPU_NODE_KEYS)) keys.push(k);
      expect(keys.length).toBeGreaterThan(0);
      await kv.put(nodeKey('probe'), encodeNodeEntry({ id: 'probe', addr: '127.0.0.1:1', startedAt: 1 }));
      await kv.delete(nodeKey('probe'));
      for (const subject of [`$KV.${NODE_REGISTRY_BUCKET}.mmu.x`, `$KV.${NODE_REGISTRY_BUCKET}.cpu.a.b`, '$KV.splitvisor.vm.natsvm.state']) {
        expect(await refusedOnNats(cpu, subject), subject).toMatch(/Permissions Violation for Publish/);
      }
      // The bucket is dom0's to make and change: the cpu cannot stretch its TTL.
      const jsm = await jetstreamManager(cpu.nc);
      const info = await jsm.streams.info(`KV_${NODE_REGISTRY_BUCKET}`);
      await expect(jsm.streams.update(info.config.name, { ...info.config, max_age: 0 })).rejects.toThrow(/Permissions Violation/);
      await expect(jsm.streams.purge(info.config.name)).rejects.toThrow(/Permissions Violation/);
    } finally {
      await cpu.drain().catch(() => undefined);
    }
    for (const user of ['mmu', 'io-backend']) {
      const bus = await busAs(user);
      try {
        expect(await refusedOnNats(bus, `$KV.${NODE_REGISTRY_BUCKET}.${nodeKey('forged')}`), user).toMatch(/Permissions Violation for Publish/);
      } finally {
        await bus.drain().catch(() => undefined);
      }
    }
  });

  it("io-backend may revoke a VM's UART read shadow at its cpu, and only io-backend", async () => {
    const cpu = await busAs('cpu');
    const io = await busAs('io-backend');
    const mmu = await busAs('mmu');
    try {
      const stop = cpu.serve(subjects.shadowRevoke('natsvm'), ShadowRevokeCodec, ShadowRevokeAckCodec, (r) => ({ epoch: r.epoch }));
      await cpu.nc.flush();
      const ack = await io.request(
        subjects.shadowRevoke('natsvm'),
        ShadowRevokeCodec,
        { vmId: 'natsvm', base: 0x10000000, epoch: 7 },
        ShadowRevokeAckCodec,
        2000,
      );
      expect(ack.epoch).toBe(7);
      expect(await refusedOnNats(mmu, subjects.shadowRevoke('natsvm'))).toMatch(/Permissions Violation for Publish/);
      stop();
    } finally {
      await Promise.all([cpu, io, mmu].map((b) => b.drain().catch(() => undefined)));
    }
  });

  it('mmu only recalls pages: no lifecycle events, no console', async () => {
    const bus = await busAs('mmu');
    try {
      for (const subject of [subjects.lifecycle('natsvm', 'cpu'), subjects.consoleOut('natsvm'), subjects.consoleIn('natsvm'), subjects.faultTable]) {
        expect(await refusedOnNats(bus, subject), subject).toMatch(/Permissions Violation for Publish/);
      }
    } finally {
      await bus.drain().catch(() => undefined);
    }
  });
});

// Issue 11 item 7: each service holds only its own key and credentials.
describe('who holds what', () => {
  /** Every file under `dir` smaller than 64 KiB (keys and certificates; not guest RAM). */
  function smallFilesUnder(dir: string): string[] {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return []; // another lab's private directory, or one going away
    }
    return entries.flatMap((e) => {
      const f = join(dir, e.name);
      if (e.isDirectory()) return smallFilesUnder(f);
      try {
        return e.isFile() && statSync(f).size < 65536 ? [f] : [];
      } catch {
        return [];
      }
    });
  }

  it('gives each service a private directory with ca.crt, its own certificate and key and its NATS password, nothing else', () => {
    const sec = t.lab.security!;
    expect(statSync(sec.root).mode & 0o777).toBe(0o700);
    expect(readdirSync(sec.root).sort()).toEqual(['cli', 'cpu', 'dom0', 'io-backend', 'mmu']);
    for (const svc of ['dom0', 'cpu', 'mmu', 'io-backend'] as const) {
      const dir = sec.dirs[svc]!;
      expect(statSync(dir).mode & 0o777, dir).toBe(0o700);
      expect(readdirSync(dir).sort(), dir).toEqual(['ca.crt', `${svc}.crt`, `${svc}.key`, NATS_PASSWORD_FILE].sort());
      expect(readFileSync(join(dir, NATS_PASSWORD_FILE), 'utf8').trim()).toBe(sec.natsPasswords[svc]);
      for (const secret of [`${svc}.key`, NATS_PASSWORD_FILE]) expect(statSync(join(dir, secret)).mode & 0o777, secret).toBe(0o600);
      // The service was pointed at that directory and no other.
      const env = readFileSync(`/proc/${t.lab.services.get(svc)!.child.pid}/environ`, 'utf8').split('\0');
      expect(env).toContain(`SPLITVISOR_TLS_DIR=${dir}`);
      expect(env).toContain(`SPLITVISOR_NATS_PASSWORD_FILE=${join(dir, NATS_PASSWORD_FILE)}`);
    }
    // What the CLI needs, and nothing more: lab.json names this directory.
    expect(readdirSync(sec.dir).sort()).toEqual(['ca.crt', 'cli.crt', 'cli.key']);
  });

  it('keeps every password out of the command lines and environments, and nats.conf off the disk once NATS listens', () => {
    const sec = t.lab.security!;
    const pids = [...[...t.lab.services.values()].map((p) => p.child.pid!), t.lab.natsServer!.pid!];
    for (const pid of pids) {
      const seen = readFileSync(`/proc/${pid}/environ`, 'utf8') + readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      for (const [user, pw] of Object.entries(sec.natsPasswords)) expect(seen.includes(pw), `${user}'s password in /proc/${pid}`).toBe(false);
    }
    const natsArgs = readFileSync(`/proc/${t.lab.natsServer!.pid}/cmdline`, 'utf8').split('\0');
    const conf = natsArgs[natsArgs.indexOf('-c') + 1]!;
    expect(conf).toMatch(/nats\.conf$/);
    expect(existsSync(conf)).toBe(false);
  });

  it("has the CA key nowhere on disk after start: no private key under the lab or the temp dir is the CA certificate's", () => {
    const sec = t.lab.security!;
    const caPublic = new X509Certificate(readFileSync(join(sec.dir, 'ca.crt'))).publicKey.export({ type: 'spki', format: 'pem' });
    const places = [
      sec.root,
      ...readdirSync(tmpdir())
        .filter((n) => n.startsWith('splitvisor-'))
        .map((n) => join(tmpdir(), n)),
    ];
    const keys = [...new Set(places.flatMap(smallFilesUnder))].filter((f) => {
      try {
        return readFileSync(f, 'latin1').includes('PRIVATE KEY-----');
      } catch {
        return false;
      }
    });
    // The five identities' keys are there (so the scan sees keys), none of them the CA's.
    for (const id of ['dom0', 'cpu', 'mmu', 'io-backend', 'cli']) expect(keys).toContain(join(sec.dirs[id]!, `${id}.key`));
    for (const k of keys) {
      let pub: string | undefined;
      try {
        pub = createPublicKey(createPrivateKey(readFileSync(k)))
          .export({ type: 'spki', format: 'pem' })
          .toString();
      } catch {
        continue; // not a key we can read (encrypted, or not PEM after all)
      }
      expect(pub, k).not.toBe(caPublic);
    }
  });
});

// Issue 11 item 10: who answered, and who called.
describe('who answered', () => {
  it("a cpu certificate opens none of mmu's methods but the cpu's own", async () => {
    for (const [what, call] of [
      ['CreateVm', () => mmuAs('cpu').call('CreateVm', { vmId: 'nope', ramBase: 0x80000000, ramSize: 4096 })],
      ['DmaWrite', () => mmuAs('cpu').call('DmaWrite', { vmId: 'nope', segments: [] })],
      ['SnapshotMemory', () => mmuAs('cpu').call('SnapshotMemory', { vmId: 'nope', name: 'x' })],
    ] as const) {
      const e = await rpcError(call());
      expect(e.code, what).toBe('PERMISSION_DENIED');
      expect(e.message, what).toMatch(new RegExp(`^cpu may not call /splitvisor\\.mmu\\.v1\\.Mmu/${what} \\(only `));
    }
    // Its own: past the door, to an answer about the VM that is not there.
    expect((await rpcError(mmuAs('cpu').call('FetchPages', { vmId: 'nope', gfn: 0x80000, count: 1, write: false, holder: '' }))).code).toBe('NOT_FOUND');
    // The DMA stream too: the cpu's is refused at the door; io-backend's opens, and its
    // read finds no VM (the caller is the certificate, as for the unary calls).
    const dmaStreamAnswer = (who: string) =>
      new Promise<{ error?: string; reply?: MmuV1.DmaStreamReply__Output }>((resolve) => {
        const s = mmuAs(who).raw.DmaStream();
        s.on('data', (reply: MmuV1.DmaStreamReply__Output) => {
          resolve({ reply });
          s.end();
        });
        s.on('error', (e: grpc.ServiceError) => resolve({ error: `${grpc.status[e.code]}: ${e.details}` }));
        s.write({ seq: 1, read: { vmId: 'nope', segments: [{ addr: 0x80000000, length: 4 }] } });
      });
    expect((await dmaStreamAnswer('cpu')).error).toMatch(/^PERMISSION_DENIED: cpu may not call \/splitvisor\.mmu\.v1\.Mmu\/DmaStream \(only /);
    expect((await dmaStreamAnswer('io-backend')).reply).toMatchObject({ seq: 1, errorCode: 'NOT_FOUND' });
  });

  it('the caller is its certificate: io-backend naming nobody in metadata is still io-backend', async () => {
    // No x-splitvisor-caller at all: DMA is let through the door as io-backend's (and then
    // finds no VM), which it could not be if mmu read the caller from metadata.
    const e = await rpcError(mmuAs('io-backend').call('DmaRead', { vmId: 'nope', segments: [{ addr: 0x80000000, length: 4 }] }));
    expect(e.code).toBe('NOT_FOUND');
  });

  it("a client refuses a fake mmu holding io-backend's certificate, naming both", async () => {
    // A compromised io-backend listens where the cpu expects mmu, with its own (valid, lab)
    // certificate.
    const fake = new RpcServer({
      name: 'splitvisor.mmu.v1.Mmu',
      listen: '127.0.0.1:0',
      log: silentLogger(),
      credentials: serverCredentials(t.lab.tls('io-backend')!),
    });
    const port = await fake.start();
    try {
      const labId = t.lab.security!.labId;
      const asCpu = new RpcClient<MmuV1.MmuClient>(p().mmu.Mmu, `127.0.0.1:${port}`, { tls: t.lab.tls('cpu')!, server: 'mmu', deadlineMs: 3000 });
      clients.push(asCpu);
      const e = await rpcError(asCpu.call('FetchPages', { vmId: 'v', gfn: 0x80000, count: 1, write: false, holder: '' }));
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toContain(
        `127.0.0.1:${port} is not mmu: it presented io-backend's certificate (DNS:io-backend.${labId}.splitvisor), and mmu of this lab is mmu.${labId}.splitvisor`,
      );
      // The real mmu, asked for by name, answers.
      const real = new RpcClient<MmuV1.MmuClient>(p().mmu.Mmu, t.addresses.mmu, { tls: t.lab.tls('cpu')!, server: 'mmu', deadlineMs: 3000 });
      clients.push(real);
      expect((await rpcError(real.call('FetchPages', { vmId: 'nope', gfn: 0x80000, count: 1, write: false, holder: '' }))).code).toBe('NOT_FOUND');
    } finally {
      await fake.stop(100);
    }
  });
});
