// The built service as a real process: flags and env, health, a call, SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRAM_BASE } from '@splitvisor/platform';
import { protos, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, waitForServing } from '@splitvisor/rpc';
import { REPO_ROOT, freePort, startTestNats, type TestNats } from '@splitvisor/testing';

const MAIN = 'services/mmu/dist/main.js';

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, SPLITVISOR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, out: () => out, exited };
}

let nats: TestNats;
let dataDir: string;
const running: Proc[] = [];
beforeAll(async () => {
  nats = await startTestNats();
  dataDir = mkdtempSync(join(tmpdir(), 'mmu-main-spec-'));
}, 60_000);
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await nats?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('mmu process', () => {
  it('serves health and calls, logs its pool, and exits 0 on SIGTERM', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const p = start(['--listen', address, '--nats', nats.url], { SPLITVISOR_MMU_POOL_MIB: '8', SPLITVISOR_MMU_DATA_DIR: join(dataDir, 'a') });
    running.push(p);
    await waitForServing(address, 15_000, 'splitvisor.mmu.v1.Mmu');
    expect(p.out()).toMatch(/"poolMib":8,"poolFrames":2048.*host pool ready/);

    const client = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, address);
    try {
      await client.call('CreateVm', { vmId: 'vm', ramBase: DRAM_BASE, ramSize: 1024 * 1024 });
      await client.call('WriteBack', { vmId: 'vm', pages: [{ gfn: DRAM_BASE / 4096, data: Buffer.alloc(4096, 1) }] });
      await expect(client.call('CreateVm', { vmId: 'big', ramBase: DRAM_BASE, ramSize: 9 * 1024 * 1024 })).rejects.toThrow(
        'vm "big" asks for 9 MiB of RAM but the host pool holds 8 MiB',
      );
    } finally {
      client.close();
    }

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.out()).toMatch(/"vms":1,"residentPages":1.*mmu resident at stop/);
  }, 30_000);

  it('keeps guest RAM and its reservation in its data dir across a kill -9, and finds the VM again', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const dir = join(dataDir, 'b');
    const first = start(['--listen', address, '--nats', nats.url, '--data-dir', dir, '--pool-mib', '2']);
    running.push(first);
    await waitForServing(address, 15_000, 'splitvisor.mmu.v1.Mmu');
    let client = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, address);
    const page = Buffer.alloc(4096, 0x5a);
    try {
      await client.call('CreateVm', { vmId: 'keep', ramBase: DRAM_BASE, ramSize: 1024 * 1024 });
      await client.call('WriteBack', { vmId: 'keep', pages: [{ gfn: DRAM_BASE / 4096 + 3, data: page }] });
    } finally {
      client.close();
    }
    first.child.kill('SIGKILL');
    await first.exited;

    const second = start(['--listen', address, '--nats', nats.url, '--data-dir', dir, '--pool-mib', '2']);
    running.push(second);
    await waitForServing(address, 15_000, 'splitvisor.mmu.v1.Mmu');
    expect(second.out()).toMatch(/"vm":"keep","residentPages":1.*vm found on disk/);
    client = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, address);
    try {
      const { pages } = await client.call('FetchPages', { vmId: 'keep', gfn: DRAM_BASE / 4096 + 3, count: 2 });
      expect(pages[0]!.data.equals(page)).toBe(true);
      expect(pages[1]!.zero).toBe(true);
      // The VM found on disk holds its whole 1 MiB again, not just the page it wrote.
      await expect(client.call('CreateVm', { vmId: 'other', ramBase: DRAM_BASE, ramSize: 2 * 1024 * 1024 })).rejects.toThrow(
        'vm "other" asks for 2 MiB of RAM but only 1 MiB of the host pool\'s 2 MiB are free (1 MiB reserved by 1 VM)',
      );
      await client.call('ReleaseVm', { vmId: 'keep' });
      await client.call('CreateVm', { vmId: 'other', ramBase: DRAM_BASE, ramSize: 2 * 1024 * 1024 });
      await client.call('ReleaseVm', { vmId: 'other' });
    } finally {
      client.close();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 30_000);

  it('keeps its data dir to this user: created 0700, and one that is open, a link or not ours is refused by name', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const fresh = join(dataDir, 'c', 'd');
    const ok = start(['--listen', address, '--nats', nats.url, '--data-dir', fresh]);
    running.push(ok);
    await waitForServing(address, 15_000, 'splitvisor.mmu.v1.Mmu');
    for (const d of [join(dataDir, 'c'), fresh, join(fresh, 'vms'), join(fresh, 'snapshots')]) expect(statSync(d).mode & 0o777, d).toBe(0o700);
    ok.child.kill('SIGTERM');
    expect(await ok.exited).toBe(0);

    const open = join(dataDir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const link = join(dataDir, 'link');
    symlinkSync(fresh, link);
    const refused: [string, string][] = [
      [open, 'has mode 0777: group and others may enter it; chmod 700 it'],
      [link, 'is a symbolic link; give the real directory'],
    ];
    if (process.getuid?.() === 0) {
      const theirs = join(dataDir, 'theirs');
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, 65534, 65534);
      refused.push([theirs, 'belongs to uid 65534, not to this user (uid 0)']);
    }
    for (const [dir, problem] of refused) {
      const p = start(['--listen', `127.0.0.1:${await freePort()}`, '--nats', nats.url, '--data-dir', dir]);
      running.push(p);
      expect(await p.exited, p.out()).not.toBe(0);
      expect(p.out()).toContain(`mmu data dir ${dir}: ${problem}`);
    }
  }, 60_000);

  it('adopts at start only the VMs whose directories are still its own alone', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const dir = join(dataDir, 'e');
    const first = start(['--listen', address, '--nats', nats.url, '--data-dir', dir]);
    running.push(first);
    await waitForServing(address, 15_000, 'splitvisor.mmu.v1.Mmu');
    const client = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, address);
    try {
      await client.call('CreateVm', { vmId: 'mine', ramBase: DRAM_BASE, ramSize: 1024 * 1024 });
      await client.call('CreateVm', { vmId: 'opened', ramBase: DRAM_BASE, ramSize: 1024 * 1024 });
    } finally {
      client.close();
    }
    first.child.kill('SIGKILL');
    await first.exited;
    // Someone opened one VM's directory to everybody while mmu was down.
    chmodSync(join(dir, 'vms', 'opened'), 0o777);
    const second = start(['--listen', address, '--nats', nats.url, '--data-dir', dir]);
    running.push(second);
    await waitForServing(address, 15_000, 'splitvisor.mmu.v1.Mmu');
    expect(second.out()).toMatch(/"vm":"mine".*vm found on disk/);
    expect(second.out()).toMatch(/has mode 0777: group and others may enter it.*cannot open a vm found on disk/);
    expect(second.out()).toMatch(/"vmsFound":1/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 30_000);

  it('exits 2 naming --pool-mib when the flag is bad', async () => {
    const p = start(['--pool-mib', '-1']);
    running.push(p);
    expect(await p.exited).toBe(2);
    expect(p.out()).toContain('mmu: --pool-mib: "-1" is not a positive integer');
  }, 15_000);
});
