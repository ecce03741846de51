// The CLI against a dom0 that cannot see its files (issue 16, item 2): `run` and `create`
// send the files a config names into dom0's image store, by sha256 (an unchanged file is
// never sent twice), disks under the VM's name; dom0 keeps a file only when every byte
// arrived and hashes to the digest the upload named.
//
// One host here, so dom0 could open the CLI's files in place (what `run` does against the
// local lab by default, and what the last test checks). SPLITVISOR_UPLOAD=always makes the
// CLI send everything, as it must to a dom0 in a container; that dom0 read the sent copy
// and not the original is shown by deleting the original before the VM starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { RpcClient, RpcError } from '@splitvisor/rpc';
import { REPO_ROOT, startTestLab, type TestLab } from '@splitvisor/testing';
import { labEnv, runCli } from './cli-runner.js';

const HELLO = join(REPO_ROOT, 'guests/hello/hello.elf');
const DISKCHECK = join(REPO_ROOT, 'guests/diskcheck/diskcheck.elf');
const UPLOAD_MAX = 8 * 1024 * 1024;
const RUN_MS = 120_000;

const store = mkdtempSync(join(tmpdir(), 'sv-upload-store-'));
/** The CLI's side: files dom0 is never told the paths of (with SPLITVISOR_UPLOAD=always). */
const here = mkdtempSync(join(tmpdir(), 'sv-upload-cli-'));
let t: TestLab;
let env: Record<string, string>;
let dom0: RpcClient<Dom0V1.Dom0Client>;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: { ...env, ...extra }, timeoutMs: RUN_MS });
const config = (name: string, body: string) => {
  const p = join(here, `${name}.yaml`);
  writeFileSync(p, `name: ${name}\n${body}`);
  return p;
};
/** What an upload leaves behind besides the files it stored: nothing. */
const leftovers = () => readdirSync(join(store, 'tmp'));

beforeAll(async () => {
  t = await startTestLab({ env: { SPLITVISOR_IMAGE_DIR: store, SPLITVISOR_UPLOAD_MAX: String(UPLOAD_MAX) } });
  env = { ...labEnv(t), SPLITVISOR_UPLOAD: 'always' };
  dom0 = new RpcClient<Dom0V1.Dom0Client>(protos().dom0.Dom0, t.addresses.dom0, { deadlineMs: 10_000 });
}, 60_000);
afterAll(async () => {
  dom0?.close();
  await t?.teardown();
  rmSync(store, { recursive: true, force: true });
  rmSync(here, { recursive: true, force: true });
});

describe('images: sent once, by sha256, and booted from the store', () => {
  it(
    'a VM whose image exists only on the CLI side boots hello from the copy in the store after the original is deleted',
    async () => {
      const image = join(here, 'only-here.elf');
      copyFileSync(HELLO, image);
      const bytes = readFileSync(image);
      // A relative path: resolved on the CLI's side, never seen by dom0.
      const c = await cli(['create', config('upl-hello', 'memory: 16M\nimage: only-here.elf\n')]);
      expect(c.stderr).toMatch(/^splitvisor: files: sent image only-here\.elf: 5\.7 KiB in \d+\.\d\d s \([\d.]+ [KM]iB\/s\)\n$/);
      expect(c.code).toBe(0);
      const stored = join(store, 'sha256', sha256(bytes));
      expect(readFileSync(stored).equals(bytes)).toBe(true);
      expect(statSync(stored).mode & 0o777).toBe(0o444);
      rmSync(image);
      const info = JSON.parse((await cli(['info', 'upl-hello', '--json'])).stdout) as { image: string; config: { image: string } };
      expect(info.config.image).toBe(stored);
      expect((await cli(['start', 'upl-hello'])).code).toBe(0);
      const out = await cli(['console', 'upl-hello']);
      expect(out.stdout).toContain('Hello from Splitvisor: a RISC-V guest across four processes');
      expect(out.stderr).toMatch(/upl-hello (is )?stopped/);
    },
    RUN_MS,
  );

  it(
    'a second run of the same bytes, even under another name and path, sends nothing',
    async () => {
      copyFileSync(HELLO, join(here, 'again.elf'));
      const r = await cli(['run', config('upl-again', 'memory: 16M\nimage: again.elf\n')]);
      expect(r.stderr).toContain('splitvisor: files: 0 bytes sent; already there: image again.elf\n');
      expect(r.stdout).toContain('Hello from Splitvisor');
      expect(r.code).toBe(0);
      expect(readdirSync(join(store, 'sha256'))).toEqual([sha256(readFileSync(HELLO))]);
    },
    RUN_MS,
  );
});

/** One UploadFile stream as a client may send it, whatever it says. */
function upload(chunks: Dom0V1.UploadChunk[], opts: { cancelAfterMs?: number } = {}): Promise<Dom0V1.UploadFileReply__Output> {
  return new Promise((resolve, reject) => {
    const call = dom0.raw.UploadFile({ deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res?: Dom0V1.UploadFileReply__Output) =>
      err ? reject(RpcError.fromGrpc(err, 'UploadFile')) : resolve(res!),
    );
    for (const c of chunks) call.write(c);
    if (opts.cancelAfterMs === undefined) call.end();
    else setTimeout(() => call.cancel(), opts.cancelAfterMs);
  });
}

describe('an upload that is not what it says is refused and leaves nothing', () => {
  const good = Buffer.alloc(64 * 1024, 0x5a);
  const header = { field: 'kernel', name: '/laptop/Image', sha256: sha256(good), size: good.length };
  const held = () => readdirSync(join(store, 'sha256'));

  it('bytes that hash to another digest: the error names the file and both digests', async () => {
    const bad = Buffer.from(good);
    bad[1000] ^= 1;
    const e = await upload([{ header }, { data: bad }]).catch((x: unknown) => x as RpcError);
    expect(e).toBeInstanceOf(RpcError);
    expect((e as RpcError).code).toBe('INVALID_ARGUMENT');
    expect((e as RpcError).message).toContain(
      `kernel /laptop/Image: sha256 mismatch: the header says ${sha256(good)}, the 65536 bytes received hash to ${sha256(bad)}; nothing was stored`,
    );
    expect(held()).not.toContain(sha256(good));
    expect(held()).not.toContain(sha256(bad));
    expect(leftovers()).toEqual([]);
  });

  it('a stream that ends early is truncated; one that goes on past its size is refused', async () => {
    const short = await upload([{ header }, { data: good.subarray(0, 40_000) }]).catch((x: unknown) => x as RpcError);
    expect((short as RpcError).message).toContain('kernel /laptop/Image: truncated: received 40000 of 65536 bytes; nothing was stored');
    const long = await upload([{ header }, { data: good }, { data: Buffer.from('x') }]).catch((x: unknown) => x as RpcError);
    expect((long as RpcError).message).toContain("kernel /laptop/Image: more bytes than the header's size of 65536; nothing was stored");
    expect(held()).not.toContain(sha256(good));
    expect(leftovers()).toEqual([]);
  });

  it('a client that goes away mid-stream leaves no partial file', async () => {
    const e = await upload([{ header }, { data: good.subarray(0, 1000) }], { cancelAfterMs: 200 }).catch((x: unknown) => x as RpcError);
    expect((e as RpcError).code).toBe('CANCELLED');
    await expect.poll(leftovers, { timeout: 5000 }).toEqual([]);
    expect(held()).not.toContain(sha256(good));
  });

  it('headers that name no file, no digest or too much are refused naming the field', async () => {
    const refused = (h: Partial<Dom0V1.UploadHeader>) =>
      upload([{ header: { ...header, ...h } }, { data: good }]).then(
        () => '',
        (x: RpcError) => x.message,
      );
    expect(await refused({ field: 'bootargs' })).toContain('header.field: "bootargs" names no file of a VM config');
    expect(await refused({ sha256: '../../etc/passwd' })).toContain('header.sha256 "../../etc/passwd" is not 64 lowercase hex digits');
    expect(await refused({ field: 'disks[0].path' })).toContain('header.vm is required for a disk');
    expect(await refused({ vm: 'Bad Name', field: 'disks[0].path' })).toMatch(/header\.vm/);
    const big = await upload([{ header: { ...header, size: UPLOAD_MAX + 1 } }]).catch((x: unknown) => x as RpcError);
    expect((big as RpcError).code).toBe('RESOURCE_EXHAUSTED');
    expect((big as RpcError).message).toContain(
      `kernel /laptop/Image: ${UPLOAD_MAX + 1} bytes is more than this dom0 takes (${UPLOAD_MAX} bytes, SPLITVISOR_UPLOAD_MAX)`,
    );
    expect(leftovers()).toEqual([]);
  });

  it('through the CLI: a file beyond dom0 cap, a missing file and a bad SPLITVISOR_UPLOAD are one clear line each', async () => {
    const huge = join(here, 'huge.bin');
    writeFileSync(huge, '');
    truncateSync(huge, UPLOAD_MAX + 4096);
    const r = await cli(['create', config('upl-huge', 'memory: 64M\nimage: huge.bin\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `image ${huge}: ${UPLOAD_MAX + 4096} bytes is more than this dom0 takes (${UPLOAD_MAX} bytes, SPLITVISOR_UPLOAD_MAX) (RESOURCE_EXHAUSTED)`,
    );
    const gone = await cli(['create', config('upl-gone', 'memory: 16M\nimage: gone.elf\n')]);
    expect(gone.stderr).toBe(`splitvisor: image ${join(here, 'gone.elf')}: no such file (nor on this host, so nothing was sent) (INVALID_ARGUMENT)\n`);
    const bad = await cli(['create', config('upl-bad', 'memory: 16M\nimage: again.elf\n')], { SPLITVISOR_UPLOAD: 'sometimes' });
    expect(bad.stderr).toBe('splitvisor: SPLITVISOR_UPLOAD: "sometimes" is not "auto" (the default) or "always"\n');
    expect(leftovers()).toEqual([]);
  });
});

describe('disks: the VM own, in the store under its name, or opened in place', () => {
  const DISK_BYTES = 4 * 1024 * 1024;
  const BLOCKS = 50;
  const disk = join(here, 'scratch.img');
  const diskVm = (name: string) => config(name, `memory: 64M\nimage: ${DISKCHECK}\nbootargs: diskcheck.blocks=${BLOCKS}\ndisks:\n  - path: scratch.img\n`);
  const zero = (p: string) => readFileSync(p).every((b) => b === 0);
  const passed = (stdout: string) => {
    expect(stdout).toContain(`diskcheck: verified ${BLOCKS} of ${BLOCKS} acknowledged writes, 0 lost`);
    expect(stdout).toContain('diskcheck: pass');
  };

  it(
    'sent once with the image, written by the guest in the store (the CLI file untouched), not sent again while unchanged',
    async () => {
      writeFileSync(disk, '');
      truncateSync(disk, DISK_BYTES);
      const first = await cli(['run', diskVm('upl-disk')]);
      expect(first.stderr).toMatch(/splitvisor: files: sent image diskcheck\.elf, virtio-blk0 scratch\.img: [\d.]+ MiB in /);
      passed(first.stdout);
      expect(first.code).toBe(0);
      const stored = join(store, 'disks', 'upl-disk', 'disk0.raw');
      expect(statSync(stored).size).toBe(DISK_BYTES);
      expect(zero(stored)).toBe(false);
      expect(zero(disk)).toBe(true);
      const second = await cli(['run', diskVm('upl-disk')]);
      expect(second.stderr).toContain('splitvisor: files: 0 bytes sent; already there: image diskcheck.elf, virtio-blk0 scratch.img\n');
      passed(second.stdout);
      expect(second.code).toBe(0);
    },
    2 * RUN_MS,
  );

  it(
    'against a dom0 that sees the same file (the local lab, without SPLITVISOR_UPLOAD), nothing is sent or said and the guest writes the file itself',
    async () => {
      writeFileSync(disk, '');
      truncateSync(disk, DISK_BYTES);
      const r = await cli(['run', diskVm('upl-inplace')], { SPLITVISOR_UPLOAD: 'auto' });
      expect(r.stderr).toBe('');
      passed(r.stdout);
      expect(r.code).toBe(0);
      expect(zero(disk)).toBe(false);
      expect(existsSync(join(store, 'disks', 'upl-inplace'))).toBe(false);
    },
    RUN_MS,
  );
});
