// The CLI against a dom0 that cannot see its files (issue 16, item 2): `run` and `create`
// send the files a config names into dom0's image store, by sha256 (an unchanged file is
// never sent twice), disks under the VM's name, a NIC's tftp directory as its files by
// sha256 plus a manifest from which dom0 builds the VM's copy; dom0 keeps a file only when
// every byte arrived and hashes to the digest the upload named.
//
// One host here, so dom0 could open the CLI's files in place (what `run` does against the
// local lab by default, and what the last test checks). SPLITVISOR_UPLOAD=always makes the
// CLI send everything, as it must to a dom0 in a container; that dom0 read the sent copy
// and not the original is shown by deleting the original before the VM starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { protos, type Dom0V1 } from '@splitvisor/proto';
import { RpcClient, RpcError } from '@splitvisor/rpc';
import { REPO_ROOT, startTestLab, type TestLab } from '@splitvisor/testing';
import { labEnv, runCli, spawnCli } from './cli-runner.js';
import { FIRMWARE, requireFirmware, UbootConsole } from './uboot-console.js';

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

describe("a NIC's tftp directory: its files by sha256, the VM's copy of it built in the store", () => {
  const tftp = join(here, 'tftp');
  const boot = Buffer.from('echo booted over tftp\n');
  const menu = Buffer.from('default linux\nlabel linux\n  kernel Image\n');
  const nicVm = (name: string, dir = 'tftp') =>
    config(name, `memory: 16M\nimage: ${HELLO}\nnics:\n  - network: upl-net\n    tftp: ${dir}\n    bootfile: boot.scr\n`);
  /** Where the created VM's config points its NIC's tftp. */
  const tftpOf = async (vm: string) => {
    const r = await cli(['info', vm, '--json']);
    const info = JSON.parse(r.stdout) as { config: { devices: { id: string; params: Record<string, string> }[] } };
    return info.config.devices.find((d) => d.id === 'virtio-net0')!.params['tftp']!;
  };
  const vmDirs = (vm: string) => (existsSync(join(store, 'tftp', vm)) ? readdirSync(join(store, 'tftp', vm)) : []);

  it(
    'sends each file once (nested ones by their relative path), builds the directory io-backend serves, sends nothing the second time',
    async () => {
      mkdirSync(join(tftp, 'pxelinux.cfg'), { recursive: true });
      writeFileSync(join(tftp, 'boot.scr'), boot);
      writeFileSync(join(tftp, 'pxelinux.cfg', 'default'), menu);
      writeFileSync(join(tftp, 'pxelinux.cfg', 'same-as-boot'), boot);
      const first = await cli(['create', nicVm('upl-tftp')]);
      // The image may be sent here or be there from the tests above; the directory's two
      // distinct files are sent, the third (same bytes as boot.scr) is not sent again.
      expect(first.stderr).toMatch(/^splitvisor: files: sent (image hello\.elf, )?virtio-net0 tftp tftp\/ \(2 of 3 files\): /);
      expect(first.code).toBe(0);
      for (const b of [boot, menu]) expect(readFileSync(join(store, 'sha256', sha256(b))).equals(b)).toBe(true);
      const dir = await tftpOf('upl-tftp');
      expect(dir).toMatch(new RegExp(`^${join(store, 'tftp', 'upl-tftp', 'nic0-')}[0-9a-f]{16}$`));
      expect(readFileSync(join(dir, 'pxelinux.cfg', 'default')).equals(menu)).toBe(true);
      expect(readFileSync(join(dir, 'pxelinux.cfg', 'same-as-boot')).equals(boot)).toBe(true);
      expect(readFileSync(join(dir, 'boot.scr')).equals(boot)).toBe(true);
      // io-backend took the NIC with the stored directory as its TFTP root.
      expect(t.lines.some((l) => l.service === 'io-backend' && l.line.includes('port joined the switch') && l.line.includes(dir))).toBe(true);

      expect((await cli(['destroy', 'upl-tftp'])).code).toBe(0);
      const second = await cli(['create', nicVm('upl-tftp')]);
      expect(second.stderr).toBe('splitvisor: files: 0 bytes sent; already there: image hello.elf, virtio-net0 tftp tftp/ (3 files)\n');
      expect(second.code).toBe(0);
      expect(await tftpOf('upl-tftp')).toBe(dir);

      // A changed file: only it is sent, the VM gets a new directory and the old one goes.
      const menu2 = Buffer.concat([menu, Buffer.from('timeout 5\n')]);
      writeFileSync(join(tftp, 'pxelinux.cfg', 'default'), menu2);
      expect((await cli(['destroy', 'upl-tftp'])).code).toBe(0);
      const third = await cli(['create', nicVm('upl-tftp')]);
      expect(third.stderr).toContain(`sent virtio-net0 tftp tftp/ (1 of 3 files): ${menu2.length} B in `);
      const dir3 = await tftpOf('upl-tftp');
      expect(dir3).not.toBe(dir);
      expect(readFileSync(join(dir3, 'pxelinux.cfg', 'default')).equals(menu2)).toBe(true);
      expect(vmDirs('upl-tftp')).toEqual([basename(dir3)]);
      expect((await cli(['destroy', 'upl-tftp'])).code).toBe(0);
      expect(leftovers()).toEqual([]);
    },
    RUN_MS,
  );

  it('a directory with a link out of it, or a special file, is refused before anything is sent, naming the field, the path and the problem', async () => {
    const bad = join(here, 'tftp-bad');
    mkdirSync(join(bad, 'sub'), { recursive: true });
    writeFileSync(join(bad, 'fresh.bin'), 'never sent');
    symlinkSync('/etc/passwd', join(bad, 'sub', 'passwd'));
    const held = readdirSync(join(store, 'sha256'));
    const r = await cli(['create', nicVm('upl-tftp-bad', 'tftp-bad')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `splitvisor: virtio-net0 tftp ${bad}: sub/passwd: is a symlink leaving the directory (to /etc/passwd) (nics[0].tftp; nothing was sent)\n`,
    );
    rmSync(join(bad, 'sub', 'passwd'));
    execFileSync('mkfifo', [join(bad, 'sub', 'fifo')]);
    const fifo = await cli(['create', nicVm('upl-tftp-bad', 'tftp-bad')]);
    expect(fifo.stderr).toBe(`splitvisor: virtio-net0 tftp ${bad}: sub/fifo: is a FIFO; TFTP serves regular files only (nics[0].tftp; nothing was sent)\n`);
    const file = await cli(['create', nicVm('upl-tftp-bad', 'tftp-bad/fresh.bin')]);
    expect(file.stderr).toContain(`virtio-net0 tftp ${join(bad, 'fresh.bin')}: is not a directory (a tftp: field names the directory the gateway serves)`);
    expect(readdirSync(join(store, 'sha256'))).toEqual(held);
    expect(vmDirs('upl-tftp-bad')).toEqual([]);
  });

  it('a manifest that escapes, repeats a path or names a digest dom0 lacks is refused naming the field, and builds nothing', async () => {
    const configYaml = `name: upl-tftp-rpc\nmemory: 16M\nimage: ${HELLO}\nnics:\n  - { network: upl-net, tftp: /laptop/tftp }\n`;
    const create = (tftpFiles: { path: string; sha256: string }[]) =>
      dom0.call('CreateVm', { configYaml, baseDir: '/laptop', source: 'rpc.yaml', stored: [{ field: 'nics[0].tftp', tftpFiles }] }).then(
        () => '',
        (e: RpcError) => `${e.code}: ${e.message}`,
      );
    const have = sha256(boot);
    expect(await create([{ path: '../../../etc/cron.d/x', sha256: have }])).toContain(
      'INVALID_ARGUMENT: nics[0].tftp: tftpFiles[0].path "../../../etc/cron.d/x" has a \'..\' component (it would leave the directory)',
    );
    expect(await create([{ path: '/etc/passwd', sha256: have }])).toContain('nics[0].tftp: tftpFiles[0].path "/etc/passwd" is absolute');
    expect(await create([{ path: 'a\0b', sha256: have }])).toContain('nics[0].tftp: tftpFiles[0].path "a\\u0000b" contains a NUL or control character');
    expect(
      await create([
        { path: 'a', sha256: have },
        { path: 'a', sha256: have },
      ]),
    ).toContain('nics[0].tftp: tftpFiles[1].path "a" is given twice');
    expect(await create([{ path: 'boot.scr', sha256: '1'.repeat(64) }])).toContain(
      "INVALID_ARGUMENT: nics[0].tftp: boot.scr: sha256:111111111111… is not in dom0's image store (send it with UploadFile first)",
    );
    expect(vmDirs('upl-tftp-rpc')).toEqual([]);
  });

  it(
    'against a dom0 that sees the same directory (the local lab), it is used where it is and the store keeps no copy for the VM',
    async () => {
      // The copy the uploads above left (kept across destroy, like a stored disk) goes once
      // the VM is created naming another directory.
      expect(vmDirs('upl-tftp')).toHaveLength(1);
      const r = await cli(['create', nicVm('upl-tftp')], { SPLITVISOR_UPLOAD: 'auto' });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(await tftpOf('upl-tftp')).toBe(tftp);
      expect(vmDirs('upl-tftp')).toEqual([]);
      expect((await cli(['destroy', 'upl-tftp'])).code).toBe(0);
    },
    RUN_MS,
  );

  it(
    "U-Boot fetches a nested file by TFTP from the VM's copy in the store, the CLI's directory deleted once sent",
    async ({ skip }) => {
      requireFirmware(skip);
      const src = join(here, 'tftp-uboot');
      const menu = pseudoBytes(20_000 + 17);
      mkdirSync(join(src, 'pxelinux.cfg'), { recursive: true });
      writeFileSync(join(src, 'pxelinux.cfg', 'default'), menu);
      const cfg = config(
        'upl-uboot',
        `memory: 256M\nfirmware: ${FIRMWARE.fwJump}\nkernel: ${FIRMWARE.uboot}\nnics:\n  - network: upl-uboot-net\n    tftp: tftp-uboot\n`,
      );
      const c = new UbootConsole(spawnCli(['run', cfg], { env }));
      let stderr = '';
      c.child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const a: Record<string, string> = {};
      try {
        await c.boot(240_000);
        expect(stderr).toContain('virtio-net0 tftp tftp-uboot/ (1 file)');
        // What TFTP serves now can only come from dom0's store.
        rmSync(src, { recursive: true });
        await c.command('setenv autoload no');
        a['dhcp'] = await c.command('dhcp', 120_000);
        a['tftpboot'] = await c.command('tftpboot ${loadaddr} pxelinux.cfg/default', 120_000);
        a['crc32'] = await c.command('crc32 ${loadaddr} ${filesize}');
        expect(await c.poweroff(), `${c.out.slice(-2000)}\n--- stderr ---\n${stderr.slice(-1500)}`).toBe(0);
      } finally {
        c.kill();
      }
      expect(a['dhcp']).toMatch(/DHCP client bound to address 10\.0\.2\.15/);
      expect(a['tftpboot']).toMatch(new RegExp(`Bytes transferred = ${menu.length} \\(${menu.length.toString(16)} hex\\)`));
      expect(a['crc32']).toMatch(new RegExp(`==> ${(crc32(menu) >>> 0).toString(16).padStart(8, '0')}$`, 'm'));
    },
    6 * RUN_MS,
  );
});

/** Bytes no text file has by chance (a xorshift stream). */
function pseudoBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
