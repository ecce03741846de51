import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ImageStore } from './image-store.js';
import { pruneStoredTftp, withStoredFiles } from './stored-config.js';

const data = Buffer.from('an image');
const sha = createHash('sha256').update(data).digest('hex');

async function storeWith(): Promise<ImageStore> {
  const store = await ImageStore.open(mkdtempSync(join(tmpdir(), 'sv-stored-')), 1 << 20);
  const put = async (h: { field: string; vm?: string }) => {
    const rx = await store.receive({ ...h, name: 'x', sha256: sha, size: data.length });
    await rx.write(data);
    await rx.finish();
  };
  await put({ field: 'kernel' });
  await put({ field: 'disks[1].path', vm: 'vm1' });
  return store;
}

const yaml = 'name: vm1\nmemory: 64M\nfirmware: fw.bin\nkernel: ../Image\ndisks:\n  - a.img\n  - { path: b.img, readonly: true }\n';
const req = (stored: { field: string; sha256?: string; tftpFiles?: { path: string; sha256: string }[] }[], configYaml = yaml) => ({
  configYaml,
  baseDir: '/laptop/vms',
  source: 'vm1.yaml',
  stored: stored.map((s) => ({ sha256: '', tftpFiles: [], ...s })),
});

describe('a config with uploaded files', () => {
  it('names the stored copies for the fields uploaded and leaves the rest as written', async () => {
    const store = await storeWith();
    const out = parse(await withStoredFiles(store, req([{ field: 'kernel', sha256: sha }, { field: 'disks[1].path' }]))) as Record<string, unknown>;
    expect(out['kernel']).toBe(store.contentPath(sha));
    expect(out['firmware']).toBe('fw.bin');
    expect(out['disks']).toEqual(['a.img', { path: store.diskPath('vm1', 1), readonly: true }]);
    expect(await withStoredFiles(store, req([]))).toBe(yaml);
  });

  it('refuses a field the config lacks, a digest or disk the store lacks, a bad config, naming each', async () => {
    const store = await storeWith();
    const refused = (r: ReturnType<typeof req>) =>
      withStoredFiles(store, r).then(
        () => '',
        (e: Error) => e.message,
      );
    expect(await refused(req([{ field: 'image', sha256: sha }]))).toBe('stored[0].field: vm1.yaml has no image: to replace');
    expect(await refused(req([{ field: 'firmware', sha256: '0'.repeat(64) }]))).toBe(
      "firmware: sha256:000000000000… is not in dom0's image store (send it with UploadFile first)",
    );
    expect(await refused(req([{ field: 'disks[0].path' }]))).toBe(
      'disks[0].path: vm "vm1" has no disk 0 in dom0\'s image store (send it with UploadFile first)',
    );
    expect(await refused(req([{ field: 'disks[5].path' }]))).toBe('stored[0].field: vm1.yaml has no disks[5]');
    expect(await refused(req([{ field: 'disks[1].path', sha256: sha }]))).toMatch(/^stored\[0\]\.sha256: a disk is the VM's own/);
    expect(
      await refused(
        req([
          { field: 'kernel', sha256: sha },
          { field: 'kernel', sha256: sha },
        ]),
      ),
    ).toBe('stored[1].field: kernel is given twice');
    expect(await refused(req([{ field: 'nics[0].mac' }]))).toBe('stored[0].field: "nics[0].mac" names no file of a VM config');
    expect(await refused(req([{ field: 'kernel', sha256: sha, tftpFiles: [{ path: 'a', sha256: sha }] }]))).toBe(
      'stored[0].tftpFiles: only a nics[i].tftp field lists files (kernel does not)',
    );
    expect(await refused(req([{ field: 'kernel', sha256: sha }], 'name: vm1\nmemory: lots\n'))).toMatch(/^vm1.yaml: memory: /);
  });
});

describe("a NIC's uploaded tftp directory", () => {
  const nicYaml = 'name: vm1\nmemory: 64M\nfirmware: fw.bin\nnics:\n  - { network: lab0, tftp: ./tftp, bootfile: boot.scr }\n  - { network: lab1 }\n';
  const files = (...entries: [string, string][]) => [{ field: 'nics[0].tftp', tftpFiles: entries.map(([path, sha256]) => ({ path, sha256 })) }];

  it("names the VM's copy in the store, built from the listed files, the NIC's other fields as written", async () => {
    const store = await storeWith();
    const out = parse(await withStoredFiles(store, req(files(['boot.scr', sha], ['pxelinux.cfg/default', sha]), nicYaml))) as {
      nics: Record<string, unknown>[];
    };
    const dir = out.nics[0]!['tftp'] as string;
    expect(dir.startsWith(join(store.dir, 'tftp', 'vm1', 'nic0-'))).toBe(true);
    expect(out.nics).toEqual([{ network: 'lab0', tftp: dir, bootfile: 'boot.scr' }, { network: 'lab1' }]);
    expect(readFileSync(join(dir, 'pxelinux.cfg', 'default')).equals(data)).toBe(true);
    expect(readFileSync(join(dir, 'boot.scr')).equals(data)).toBe(true);
  });

  it('refuses a manifest that escapes, repeats, lacks a digest, or a NIC with no tftp, naming the field', async () => {
    const store = await storeWith();
    const refused = (stored: Parameters<typeof req>[0]) =>
      withStoredFiles(store, req(stored, nicYaml)).then(
        () => '',
        (e: Error) => e.message,
      );
    expect(await refused(files(['../../etc/passwd', sha]))).toBe(
      'nics[0].tftp: tftpFiles[0].path "../../etc/passwd" has a \'..\' component (it would leave the directory)',
    );
    expect(await refused(files(['/etc/passwd', sha]))).toBe(
      'nics[0].tftp: tftpFiles[0].path "/etc/passwd" is absolute (paths are relative to the tftp directory)',
    );
    expect(await refused(files(['a\0b', sha]))).toBe('nics[0].tftp: tftpFiles[0].path "a\\u0000b" contains a NUL or control character');
    expect(await refused(files(['a', sha], ['a', sha]))).toBe('nics[0].tftp: tftpFiles[1].path "a" is given twice');
    expect(await refused(files(['boot.scr', '0'.repeat(64)]))).toBe(
      "nics[0].tftp: boot.scr: sha256:000000000000… is not in dom0's image store (send it with UploadFile first)",
    );
    expect(await refused([{ field: 'nics[1].tftp', tftpFiles: [] }])).toBe('stored[0].field: vm1.yaml has no nics[1].tftp: to replace');
    expect(await refused([{ field: 'nics[0].tftp', sha256: sha }])).toMatch(/^stored\[0\]\.sha256: a tftp directory is named by its files/);
    expect(readdirSync(join(store.dir, 'tftp'))).toEqual([]);
  });

  it('after a create, removes the copies the config no longer names', async () => {
    const store = await storeWith();
    const first = await withStoredFiles(store, req(files(['a', sha]), nicYaml));
    const second = await withStoredFiles(store, req(files(['b', sha]), nicYaml));
    const dirOf = (y: string) => (parse(y) as { nics: { tftp: string }[] }).nics[0]!.tftp;
    expect(await pruneStoredTftp(store, second, '/laptop/vms', 'vm1.yaml')).toEqual([dirOf(first)]);
    expect(existsSync(join(dirOf(second), 'b'))).toBe(true);
    expect(await pruneStoredTftp(store, nicYaml, '/laptop/vms', 'vm1.yaml')).toEqual([dirOf(second)]);
  });
});
