// The compose lab for real (issue 16): deploy/compose.yaml built and run on this machine's
// Docker engine as `npm run lab:compose` runs it (scripts/lab-compose.sh: image built, pki's
// CA, certificates and NATS users issued, NATS and the four services healthy, hello booted
// from the host CLI through dom0's published port with the CLI's certificate, its image
// uploaded); secure by default: a plaintext client of dom0 and a NATS client without
// credentials are refused; then io-backend's container killed under a running ticker:
// the restart policy brings it back and the ticker goes on; then Debian's U-Boot on a virtio
// disk and NIC, its firmware, disk and TFTP directory uploaded from the host CLI, gives the
// answers virtio-uboot.spec asks of the local lab (virtio-session.ts) and its write lands in the VM's stored
// disk. Build, up, hello and U-Boot times are printed with the load average beside them, and
// the local lab's (`splitvisor up`, then hello) beside those.
// Everything is torn down, volumes too, whatever happened: a compose project of its own
// and host ports of its own, so a developer's lab on the default ones is not touched.
//
// Needs an engine that answers (npm test starts one: scripts/ensure-docker.sh); where none
// can be had the tests fail naming it, unless SPLITVISOR_ALLOW_NO_DOCKER=1.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';
import { runCli, spawnCli } from './cli-runner.js';
import { ComposeProject, composeCmd, docker, engineAnswers, inspect, load, needEngine } from './compose-project.js';
import { ConsoleProcess } from './console-process.js';
import { waitFor } from './dom0-helpers.js';
import { HELLO_BANNER, TICKER_BOOT } from './guest-expectations.js';
import { FIRMWARE, readFatFile, requireFirmware, UbootConsole } from './uboot-console.js';
import { MAC, expectVirtioAnswers, makeVirtioFixtures, session, writtenPattern } from './virtio-session.js';

const lab = new ComposeProject();
const project = lab.name;
const env = lab.env;
const tlsDir = lab.tlsDir;
const compose = (args: string[], timeout?: number) => lab.compose(args, timeout);
const cliEnv = (tls?: string | null) => lab.cliEnv(tls);
const image = process.env['SPLITVISOR_IMAGE'] || 'splitvisor:dev';

const times: Record<string, string> = {};
let up = false;
let ticker: ConsoleProcess | undefined;

afterAll(() => {
  ticker?.child.kill('SIGKILL');
  if (!engineAnswers) return;
  // Down with volumes whether or not the tests passed; then nothing of the project is left.
  const { out, ...left } = lab.down();
  expect(left, out).toEqual({ down: 0, containers: '', volumes: '' });
}, 240_000);

describe('the compose lab (deploy/compose.yaml) on a Docker engine, from the host CLI', () => {
  it('npm run lab:compose builds the image, brings NATS and the four services up healthy, and boots hello', async ({ skip }) => {
    needEngine(skip);
    // The script as a user runs it (npm run lab:compose), on this project and its own ports.
    const { code, lines } = await lab.up();
    const text = lines.map((l) => l.text).join('\n');
    up = compose(['ps', '-q']).out !== '';
    expect(code, text).toBe(0);
    const num = (re: RegExp) => re.exec(text)?.[1];
    times['build'] = `${num(/built in ([\d.]+) s/)} s (load ${num(/built in [\d.]+ s \(load ([\d. ]+)\)/)})`;
    times['up to healthy'] = `${num(/healthy in ([\d.]+) s/)} s (load ${num(/healthy in [\d.]+ s \(load ([\d. ]+)\)/)})`;
    const boot = lines.find((l) => l.text.includes('booting the demo guest'));
    const hello = lines.find((l) => l.text === HELLO_BANNER.trimEnd());
    expect(hello, `hello's banner in:\n${text}`).toBeDefined();
    times['hello line'] = `${((hello!.at - boot!.at) / 1000).toFixed(1)} s (load ${load()})`;
    // pki ran once and exited 0; it is not left running.
    const pki = compose(['ps', '-a', '-q', 'pki']).out;
    expect(inspect(pki, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');
  }, 900_000);

  it('secure by default: the CLI presents the certificate `lab-compose.sh cli-cert` copies out; plaintext and NATS without credentials are refused', async ({
    skip,
  }) => {
    needEngine(skip);
    expect(up, 'the compose lab is up (the test before)').toBe(true);
    const cert = spawnSync('bash', ['scripts/lab-compose.sh', 'cli-cert', tlsDir], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(cert.status, `${cert.stdout}${cert.stderr}`).toBe(0);
    expect(statSync(join(tlsDir, 'cli.key')).mode & 0o077, 'cli.key private').toBe(0);
    for (const f of ['ca.crt', 'cli.crt']) expect(existsSync(join(tlsDir, f)), f).toBe(true);
    const dom0 = `127.0.0.1:${env['SPLITVISOR_DOM0_PORT']}`;

    const withCert = await runCli(['health', dom0, '--server', 'dom0'], { env: cliEnv() });
    expect(withCert.code, withCert.stderr).toBe(0);
    const listed = await runCli(['list'], { env: cliEnv() });
    expect(listed.code, listed.stderr).toBe(0);

    // No certificate: the TLS server does not speak plaintext gRPC at all.
    const plain = await runCli(['list'], { env: cliEnv(null), timeoutMs: 60_000 });
    expect(plain.code, `plaintext list: ${plain.stdout}`).not.toBe(0);
    expect(plain.stderr).toMatch(/UNAVAILABLE|connection|socket|closed/i);
    const plainHealth = await runCli(['health', dom0], { env: cliEnv(null), timeoutMs: 60_000 });
    expect(plainHealth.code, `plaintext health: ${plainHealth.stdout}`).not.toBe(0);

    // NATS, from inside the lab's network (its port is not published): no credentials, a
    // user without its password, a wrong password, all refused by name; mmu with the
    // password in its own volume gets in (so the refusals are NATS's, not a missing route).
    const probe = [
      "import { connect } from '@nats-io/transport-node';",
      "import { readFileSync } from 'node:fs';",
      "const pw = readFileSync('/tls/nats.password', 'utf8').trim();",
      "for (const [name, o] of [['none', {}], ['user only', { user: 'mmu' }], ['wrong password', { user: 'mmu', pass: 'x' + pw }], ['mmu', { user: 'mmu', pass: pw }]]) {",
      "  try { const nc = await connect({ servers: 'nats:4222', reconnect: false, timeout: 5000, ...o }); console.log(name + ': CONNECTED'); await nc.close(); }",
      "  catch (e) { console.log(name + ': REFUSED ' + e.message); }",
      '}',
    ].join('\n');
    const r = docker([
      'run',
      '--rm',
      '--network',
      `${project}_default`,
      '-v',
      `${project}_pki-mmu:/tls:ro`,
      '--entrypoint',
      'node',
      image,
      '--input-type=module',
      '-e',
      probe,
    ]);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    const said = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
    );
    for (const k of ['none', 'user only', 'wrong password']) expect(said[k], `${k}: ${r.stdout}`).toMatch(/^REFUSED .*authorization violation/i);
    expect(said['mmu'], r.stdout).toBe('CONNECTED');
  }, 180_000);

  it('io-backend killed: the restart policy brings it back and a running ticker goes on', async ({ skip }) => {
    needEngine(skip);
    expect(up, 'the compose lab is up (the test before)').toBe(true);
    // examples/ticker.yaml from this machine: run/create upload its image into dom0's store.
    const yaml = 'examples/ticker.yaml';
    const cli = (args: string[]) => runCli(args, { env: cliEnv(), timeoutMs: 60_000 });
    for (const args of [
      ['create', yaml],
      ['start', 'ticker'],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    ticker = new ConsoleProcess(spawnCli(['console', 'ticker'], { env: cliEnv() }));
    await ticker.waitFor(new RegExp(TICKER_BOOT.trimEnd()), 30_000);
    const ticks = () => [...ticker!.out.matchAll(/tick (\d+)\r?\n/g)].map((m) => Number(m[1]));
    await waitFor('five ticks', () => ticks().length >= 5 || undefined, 30_000);

    const id = compose(['ps', '-q', 'io-backend']).out;
    expect(id).toMatch(/^[0-9a-f]{12,}$/);
    const before = { restarts: Number(inspect(id, '{{.RestartCount}}')), pid: inspect(id, '{{.State.Pid}}') };
    // A crash, as the engine sees one: the container's process killed from outside. (`docker
    // kill` is a stop the user asked for, and the engine then leaves an unless-stopped
    // container down; see below.)
    const killedAt = Date.now();
    process.kill(Number(before.pid), 'SIGKILL');
    const tickAtKill = ticks().length;
    await waitFor(
      () => `io-backend restarted by its policy (${inspect(id, '{{.State.Status}} {{.RestartCount}}')})`,
      () => (Number(inspect(id, '{{.RestartCount}}')) > before.restarts && inspect(id, '{{.State.Health.Status}}') === 'healthy') || undefined,
      120_000,
    );
    times['io-backend back (healthy)'] = `${((Date.now() - killedAt) / 1000).toFixed(1)} s after its kill`;
    await waitFor(
      () => `ten ticks after the restart (${ticks().length - tickAtKill} so far)`,
      () => ticks().length >= tickAtKill + 10 || undefined,
      60_000,
    );
    const ns = ticks();
    for (let i = 1; i < ns.length; i++) expect(ns[i], `tick ${ns[i]} after ${ns[i - 1]}`).toBeGreaterThan(ns[i - 1]!);
    const list = await cli(['list']);
    expect(list.stdout).toMatch(/\nticker +running /);

    // `docker kill` itself: the engine counts it as asked for and leaves the container down
    // (restart policies act on exits the user did not ask for); `docker start` brings it back.
    const d = docker(['kill', id]);
    expect(d.status, d.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 3000));
    times['after docker kill'] = `io-backend ${inspect(id, '{{.State.Status}}')} 3 s later`;
    expect(docker(['start', id]).status).toBe(0);
    await waitFor('io-backend healthy after docker start', () => inspect(id, '{{.State.Health.Status}}') === 'healthy' || undefined, 120_000);
    await cli(['destroy', 'ticker']);
  }, 300_000);

  it("Debian's U-Boot on a virtio disk and NIC, its firmware, disk and TFTP files uploaded from the host CLI, gives the local lab's answers", async ({
    skip,
  }) => {
    needEngine(skip);
    requireFirmware(skip);
    expect(up, 'the compose lab is up (the tests before)').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'sv-compose-uboot-'));
    try {
      const { disk, tftpDir } = makeVirtioFixtures(dir);
      const cfg = join(dir, 'uboot-virtio.yaml');
      writeFileSync(
        cfg,
        [
          'name: uboot-virtio',
          'memory: 256M',
          `firmware: ${FIRMWARE.fwJump}`,
          `kernel: ${FIRMWARE.uboot}`,
          'disks:',
          `  - path: ${disk}`,
          'nics:',
          '  - network: uboot-lab',
          `    mac: "${MAC}"`,
          `    tftp: ${tftpDir}`,
          '',
        ].join('\n'),
      );
      const t0 = Date.now();
      const c = new UbootConsole(spawnCli(['run', cfg], { env: cliEnv() }));
      let stderr = '';
      c.child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      let a: Record<string, string>;
      try {
        a = await session(c, 240_000);
        const code = await c.poweroff();
        expect(code, `${c.out.slice(-2000)}\n--- stderr ---\n${stderr.slice(-1500)}`).toBe(0);
      } finally {
        c.kill();
      }
      times['U-Boot virtio session (uploads, boot, disk, DHCP, TFTP)'] = `${((Date.now() - t0) / 1000).toFixed(1)} s (load ${load()})`;
      // Every file went through dom0's store: nothing here is opened where it is.
      expect(stderr).toMatch(/firmware fw_jump\.bin/);
      expect(stderr).toMatch(/virtio-net0 tftp tftp\/ \(1 file\)/);
      expectVirtioAnswers(a);
      // The guest's write is in the VM's stored disk (the images volume), not in the CLI's copy.
      const stored = join(dir, 'stored.img');
      const cat = spawnSync(
        'docker',
        ['run', '--rm', '--network', 'none', '-v', `${project}_images:/images:ro`, '--entrypoint', 'cat', image, '/images/disks/uboot-virtio/disk0.raw'],
        {
          maxBuffer: 64 << 20,
        },
      );
      expect(cat.status, cat.stderr?.toString()).toBe(0);
      writeFileSync(stored, cat.stdout);
      expect(readFatFile(stored, 'out.bin').equals(writtenPattern())).toBe(true);
      expect(() => readFatFile(disk, 'out.bin')).toThrow();
    } finally {
      await runCli(['destroy', 'uboot-virtio'], { env: cliEnv() });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);

  it('beside the local lab: splitvisor up, then hello (the times printed)', async ({ skip }) => {
    needEngine(skip);
    const dir = mkdtempSync(join(tmpdir(), 'sv-compose-local-'));
    const lenv = { SPLITVISOR_LAB_DIR: dir, SPLITVISOR_DOM0_ADDR: undefined, SPLITVISOR_NATS_URL: undefined };
    const t0 = Date.now();
    const lab = spawnCli(['up', '--any-ports'], { env: lenv });
    let err = '';
    lab.stderr.on('data', (b: Buffer) => (err += b.toString()));
    try {
      await waitFor(
        () => `the local lab up (stderr: ${err})`,
        () => {
          if (!existsSync(join(dir, 'lab.json'))) return undefined;
          const s = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as { services?: { state: string }[] };
          return (s.services?.length && s.services.every((x) => x.state === 'up')) || undefined;
        },
        60_000,
      );
      const upMs = Date.now() - t0;
      const t1 = Date.now();
      const run = new ConsoleProcess(spawnCli(['run', 'examples/hello.yaml'], { env: lenv }));
      await run.waitFor(new RegExp(HELLO_BANNER.trimEnd()), 30_000);
      const helloMs = Date.now() - t1;
      expect(await run.exited).toBe(0);
      const local = `up ${(upMs / 1000).toFixed(1)} s, hello line ${(helloMs / 1000).toFixed(1)} s (load ${load()})`;
      const rows = Object.entries(times).map(([k, v]) => `  compose ${k}: ${v}`);
      process.stdout.write(`compose-lab: ${composeCmd.join(' ')}\n${rows.join('\n')}\n  local lab (splitvisor up --any-ports): ${local}\n`);
    } finally {
      await runCli(['down'], { env: lenv });
      lab.kill('SIGKILL');
    }
  }, 120_000);
});
