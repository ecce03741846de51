import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@splitvisor/testing';
import { ImageStore } from './image-store.js';
import { checkFiles } from './upload-handlers.js';

describe('CheckFiles', () => {
  it("answers the CLI's first question (no digest yet) for a file dom0 cannot open where the CLI has it", async () => {
    const store = await ImageStore.open(mkdtempSync(join(tmpdir(), 'sv-store-')), 1 << 20);
    const check = checkFiles({ store, log: silentLogger(), vmInUse: () => false });
    const here = join(mkdtempSync(join(tmpdir(), 'sv-cli-')), 'hello.elf');
    writeFileSync(here, 'elf');
    const st = statSync(here);
    // A remote dom0: the CLI's path names no file on dom0's side (here: a path it lacks).
    const reply = await check({
      vm: 'v',
      files: [
        { field: 'image', sha256: '', size: 3, path: '/nonexistent/on/dom0/hello.elf', identity: { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs } },
        { field: 'image', sha256: '', size: 3, path: here, identity: { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs } },
      ],
    });
    expect(reply.files).toEqual([
      { field: 'image', present: false },
      { field: 'image', sameFile: true },
    ]);
    // With a digest, malformed ones are still refused by name.
    await expect(check({ vm: 'v', files: [{ field: 'image', sha256: 'xyz', size: 3, path: '', identity: null }] })).rejects.toThrow(/sha256/);
  });
});
