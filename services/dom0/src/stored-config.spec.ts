import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ImageStore } from './image-store.js';
import { withStoredFiles } from './stored-config.js';

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
const req = (stored: { field: string; sha256?: string }[], configYaml = yaml) => ({
  configYaml,
  baseDir: '/laptop/vms',
  source: 'vm1.yaml',
  stored: stored.map((s) => ({ sha256: '', ...s })),
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
    expect(await refused(req([{ field: 'nics[0].tftp' }]))).toBe('stored[0].field: "nics[0].tftp" names no file of a VM config');
    expect(await refused(req([{ field: 'kernel', sha256: sha }], 'name: vm1\nmemory: lots\n'))).toMatch(/^vm1.yaml: memory: /);
  });
});
