import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, readChunks, sha256OfFile } from './file-digest.js';
import { defaultImageDir, ImageStore, openImageStore, parseByteSize, StoreError } from './image-store.js';
import { diskIndex, filesOf, isSha256, kindOfField, nicIndex } from './config-files.js';
import { parseVmConfig } from './vm-config.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const dir = () => mkdtempSync(join(tmpdir(), 'sv-store-'));
const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i & 0xff));

describe('file digest and chunks', () => {
  it('hashes a file as sha256 of its bytes, and cuts it into chunks of one size but the last', async () => {
    const p = join(dir(), 'f');
    writeFileSync(p, data);
    expect(await sha256OfFile(p)).toBe(sha(data));
    const chunks: Buffer[] = [];
    for await (const c of readChunks(p, 4096)) chunks.push(Buffer.from(c));
    expect(chunks.map((c) => c.length)).toEqual([4096, 4096, 1808]);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('chunks a file larger than one read the same way (default size), none for an empty file', async () => {
    const d = dir();
    const big = Buffer.alloc(CHUNK_BYTES * 2 + 5, 7);
    writeFileSync(join(d, 'big'), big);
    const sizes: number[] = [];
    for await (const c of readChunks(join(d, 'big'))) sizes.push(c.length);
    expect(sizes).toEqual([CHUNK_BYTES, CHUNK_BYTES, 5]);
    writeFileSync(join(d, 'empty'), '');
    for await (const c of readChunks(join(d, 'empty'))) throw new Error(`a chunk of ${c.length} from an empty file`);
    await expect(readChunks(join(d, 'big'), 0).next()).rejects.toThrow('chunk size 0 is not a positive whole number');
  });
});

describe('which files a config names', () => {
  it('lists content files by field and disks as disks[i].path, with absolute paths', () => {
    const cfg = parseVmConfig(
      'name: a\nmemory: 64M\nfirmware: fw.bin\nkernel: /k/Image\ninitrd: i.cpio\ndisks:\n  - d0.img\n  - { path: d1.img, readonly: true }\nrng: true\n' +
        'nics:\n  - { network: n, tftp: tftp }\n  - { network: n }\n',
      '/base',
    );
    expect(filesOf(cfg)).toEqual([
      { field: 'firmware', kind: 'content', path: '/base/fw.bin', label: 'firmware' },
      { field: 'kernel', kind: 'content', path: '/k/Image', label: 'kernel' },
      { field: 'initrd', kind: 'content', path: '/base/i.cpio', label: 'initrd' },
      { field: 'disks[0].path', kind: 'disk', path: '/base/d0.img', label: 'virtio-blk0' },
      { field: 'disks[1].path', kind: 'disk', path: '/base/d1.img', label: 'virtio-blk1' },
      { field: 'nics[0].tftp', kind: 'tftp', path: '/base/tftp', label: 'virtio-net0 tftp' },
    ]);
    expect(kindOfField('image')).toBe('content');
    expect(kindOfField('disks[3].path')).toBe('disk');
    expect(diskIndex('disks[3].path')).toBe(3);
    expect(kindOfField('nics[0].tftp')).toBe('tftp');
    expect(nicIndex('nics[2].tftp')).toBe(2);
    expect(kindOfField('nics[0].mac')).toBeUndefined();
    expect(kindOfField('disks[x].path')).toBeUndefined();
    expect(isSha256(sha(data))).toBe(true);
    expect(isSha256(sha(data).toUpperCase())).toBe(false);
    expect(isSha256('../x')).toBe(false);
  });
});

describe('the image store', () => {
  const header = { field: 'image', name: '/laptop/hello.elf', sha256: sha(data), size: data.length };

  it('keeps a verified content file under its digest, read-only, and says it has it', async () => {
    const d = dir();
    const store = await ImageStore.open(d, 1 << 20);
    expect(await store.hasContent(sha(data))).toBe(false);
    const rx = await store.receive(header);
    await rx.write(data.subarray(0, 3000));
    await rx.write(data.subarray(3000));
    const r = await rx.finish();
    expect(r).toEqual({ path: join(d, 'sha256', sha(data)), sha256: sha(data), bytes: data.length });
    expect(readFileSync(r.path).equals(data)).toBe(true);
    expect(statSync(r.path).mode & 0o777).toBe(0o444);
    expect(await store.hasContent(sha(data))).toBe(true);
    expect(readdirSync(join(d, 'tmp'))).toEqual([]);
  });

  it('refuses a digest mismatch, a short stream and an overlong one, leaving no file', async () => {
    const d = dir();
    const store = await ImageStore.open(d, 1 << 20);
    const bad = Buffer.from(data);
    bad[0] ^= 0xff;
    const rx = await store.receive(header);
    await rx.write(bad);
    await expect(rx.finish()).rejects.toThrow(
      `image /laptop/hello.elf: sha256 mismatch: the header says ${sha(data)}, the 10000 bytes received hash to ${sha(bad)}; nothing was stored`,
    );
    await rx.abort();
    const short = await store.receive(header);
    await short.write(data.subarray(0, 10));
    await expect(short.finish()).rejects.toThrow('image /laptop/hello.elf: truncated: received 10 of 10000 bytes; nothing was stored');
    await short.abort();
    const long = await store.receive(header);
    await long.write(data);
    await expect(long.write(Buffer.from([1]))).rejects.toThrow("more bytes than the header's size of 10000");
    await long.abort();
    expect(readdirSync(join(d, 'tmp'))).toEqual([]);
    expect(readdirSync(join(d, 'sha256'))).toEqual([]);
  });

  it('refuses headers that name no file, a bad digest, an empty or too large file, or a disk without its VM', async () => {
    const store = await ImageStore.open(dir(), 5000);
    const refused = (h: Partial<typeof header> & { vm?: string }) =>
      store.receive({ ...header, ...h }).then(
        () => '',
        (e: StoreError) => `${e.kind}: ${e.message}`,
      );
    expect(await refused({ size: 4000, field: 'bootargs' })).toMatch(/^invalid: header.field: "bootargs" names no file/);
    expect(await refused({ size: 4000, sha256: 'abc' })).toBe('invalid: image /laptop/hello.elf: header.sha256 "abc" is not 64 lowercase hex digits');
    expect(await refused({ size: 0 })).toBe('invalid: image /laptop/hello.elf: header.size 0: an empty file is no image or disk');
    expect(await refused({})).toBe('too-large: image /laptop/hello.elf: 10000 bytes is more than this dom0 takes (5000 bytes, SPLITVISOR_UPLOAD_MAX)');
    expect(await refused({ size: 4000, field: 'disks[0].path' })).toMatch(/header.vm is required for a disk/);
    expect(await refused({ size: 4000, field: 'disks[0].path', vm: '../etc' })).toBe('invalid: vm: "../etc" is not a VM name');
    expect(await refused({ size: 4000, vm: 'a' })).toMatch(/header.vm is for disks only/);
  });

  it("keeps a disk as the VM's own, writable, with the digest that seeded it; a new upload replaces it", async () => {
    const d = dir();
    const store = await ImageStore.open(d, 1 << 20);
    expect(await store.diskSeed('vm1', 0)).toBeUndefined();
    const rx = await store.receive({ ...header, field: 'disks[0].path', name: 'disk.img', vm: 'vm1' });
    await rx.write(data);
    const r = await rx.finish();
    expect(r.path).toBe(join(d, 'disks', 'vm1', 'disk0.raw'));
    expect(statSync(r.path).mode & 0o777).toBe(0o644);
    expect(await store.diskSeed('vm1', 0)).toBe(sha(data));
    expect(await store.diskSeed('vm1', 1)).toBeUndefined();
    const other = Buffer.alloc(100, 1);
    const again = await store.receive({ field: 'disks[0].path', name: 'disk.img', vm: 'vm1', sha256: sha(other), size: 100 });
    await again.write(other);
    await again.finish();
    expect(readFileSync(r.path).equals(other)).toBe(true);
    expect(await store.diskSeed('vm1', 0)).toBe(sha(other));
  });

  it("takes a tftp directory's files by digest, an empty one too, never under a VM", async () => {
    const d = dir();
    const store = await ImageStore.open(d, 1 << 20);
    const empty = Buffer.alloc(0);
    const rx = await store.receive({ field: 'nics[0].tftp', name: '/laptop/tftp/flag', sha256: sha(empty), size: 0 });
    expect((await rx.finish()).path).toBe(join(d, 'sha256', sha(empty)));
    await expect(store.receive({ field: 'nics[0].tftp', name: 'x', sha256: sha(data), size: data.length, vm: 'vm1' })).rejects.toThrow(
      'nics[0].tftp x: header.vm is for disks only (a tftp file is stored by its digest)',
    );
  });

  it("builds a VM's tftp directory of hard links, reuses it for the same manifest, and prunes the others", async () => {
    const d = dir();
    const store = await ImageStore.open(d, 1 << 20);
    const put = async (b: Buffer) => {
      const rx = await store.receive({ field: 'nics[1].tftp', name: 'f', sha256: sha(b), size: b.length });
      await rx.write(b);
      return (await rx.finish()).path;
    };
    const cfgText = Buffer.from('default linux\n');
    const stored = await Promise.all([put(data), put(cfgText)]);
    const manifest = [
      { path: 'Image', sha256: sha(data) },
      { path: 'pxelinux.cfg/default', sha256: sha(cfgText) },
      { path: 'a/b/copy-of-image', sha256: sha(data) },
    ];
    const one = await store.materializeTftp('vm1', 1, manifest);
    expect(one).toMatch(new RegExp(`^${join(d, 'tftp', 'vm1', 'nic1-')}[0-9a-f]{16}$`));
    expect(readFileSync(join(one, 'pxelinux.cfg', 'default')).equals(cfgText)).toBe(true);
    expect(readFileSync(join(one, 'a', 'b', 'copy-of-image')).equals(data)).toBe(true);
    expect(statSync(join(one, 'Image')).ino).toBe(statSync(stored[0]!).ino);
    expect(await store.materializeTftp('vm1', 1, [...manifest].reverse())).toBe(one);
    const two = await store.materializeTftp('vm1', 1, manifest.slice(0, 2));
    expect(two).not.toBe(one);
    expect(existsSync(join(two, 'a'))).toBe(false);
    expect(readdirSync(join(d, 'tmp'))).toEqual([]);
    expect(await store.pruneTftp('vm1', new Set([two]))).toEqual([one]);
    expect(existsSync(one)).toBe(false);
    expect(existsSync(join(two, 'Image'))).toBe(true);
    expect(await store.pruneTftp('vm1', new Set())).toEqual([two]);
    expect(existsSync(join(d, 'tftp', 'vm1'))).toBe(false);
    await expect(store.materializeTftp('../etc', 0, manifest)).rejects.toThrow('vm: "../etc" is not a VM name');
  });

  it('removes what a dom0 that is gone left half-uploaded, not what a live one is writing', async () => {
    const d = dir();
    await ImageStore.open(d, 1 << 20);
    writeFileSync(join(d, 'tmp', '999999999-dead'), 'x');
    writeFileSync(join(d, 'tmp', `${process.pid}-live`), 'x');
    mkdirSync(join(d, 'tmp', '999999998-half-built-tftp', 'sub'), { recursive: true });
    await ImageStore.open(d, 1 << 20);
    expect(existsSync(join(d, 'tmp', '999999999-dead'))).toBe(false);
    expect(existsSync(join(d, 'tmp', '999999998-half-built-tftp'))).toBe(false);
    expect(existsSync(join(d, 'tmp', `${process.pid}-live`))).toBe(true);
  });

  it('a default store that cannot be made falls back to a temp one, saying so; a chosen one fails naming it', async () => {
    const d = dir();
    writeFileSync(join(d, 'file'), 'x');
    await expect(openImageStore(join(d, 'file', 'store'), 1, () => undefined)).rejects.toThrow(/^image store .*\/file\/store \(SPLITVISOR_IMAGE_DIR\): /);
    const saved = process.env['XDG_DATA_HOME'];
    process.env['XDG_DATA_HOME'] = join(d, 'file');
    try {
      const warned: string[] = [];
      const store = await openImageStore(defaultImageDir(), 1, (m) => warned.push(m));
      expect(store.dir).toBe(join(tmpdir(), `splitvisor-images-${process.getuid!()}`));
      expect(warned).toEqual([expect.stringMatching(/^image store .*\/file\/splitvisor\/images: .*; using .* \(set SPLITVISOR_IMAGE_DIR to choose\)$/)]);
    } finally {
      if (saved === undefined) delete process.env['XDG_DATA_HOME'];
      else process.env['XDG_DATA_HOME'] = saved;
    }
  });

  it('parses the size cap', () => {
    expect(parseByteSize('8G')).toBe(8 * 1024 ** 3);
    expect(parseByteSize('512M')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('64KiB')).toBe(64 * 1024);
    expect(parseByteSize('1000')).toBe(1000);
    expect(() => parseByteSize('lots')).toThrow('"lots" is not a size like 8G, 512M or a number of bytes');
    expect(() => parseByteSize('0')).toThrow(/is not a size/);
  });
});
