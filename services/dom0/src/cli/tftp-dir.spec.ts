import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TFTP_LIMITS } from '../tftp-manifest.js';
import { readTftpDir } from './tftp-dir.js';

const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'sv-tftp-dir-'));
  mkdirSync(join(d, 'tftp'));
  return { d, root: join(d, 'tftp') };
};
const nic = (path: string) => ({ field: 'nics[0].tftp', label: 'virtio-net0 tftp', path });
const refusal = (path: string) =>
  readTftpDir(nic(path)).then(
    () => '',
    (e: Error) => e.message,
  );

describe("the CLI's reading of a tftp directory", () => {
  it('lists every regular file, nested ones by their relative path, empty ones and links to files inside too, sorted', async () => {
    const { root } = fresh();
    mkdirSync(join(root, 'pxelinux.cfg'));
    mkdirSync(join(root, 'empty-dir'));
    writeFileSync(join(root, 'pxelinux.cfg', 'default'), 'default linux\n');
    writeFileSync(join(root, 'Image'), 'kernel bytes');
    writeFileSync(join(root, 'flag'), '');
    symlinkSync('Image', join(root, 'vmlinuz'));
    expect(await readTftpDir(nic(root))).toEqual([
      { rel: 'Image', path: join(root, 'Image'), size: 12 },
      { rel: 'flag', path: join(root, 'flag'), size: 0 },
      { rel: 'pxelinux.cfg/default', path: join(root, 'pxelinux.cfg', 'default'), size: 14 },
      { rel: 'vmlinuz', path: join(root, 'vmlinuz'), size: 12 },
    ]);
  });

  it('refuses symlinks leaving the directory, dangling or to a directory, and special files, naming field, directory, path and problem', async () => {
    const { d, root } = fresh();
    writeFileSync(join(d, 'outside'), 'secret');
    mkdirSync(join(root, 'sub'));
    symlinkSync(join(d, 'outside'), join(root, 'sub', 'leak'));
    expect(await refusal(root)).toBe(
      `virtio-net0 tftp ${root}: sub/leak: is a symlink leaving the directory (to ${join(d, 'outside')}) (nics[0].tftp; nothing was sent)`,
    );

    const b = fresh();
    symlinkSync('../..', join(b.root, 'up'));
    expect(await refusal(b.root)).toMatch(/: up: is a symlink leaving the directory \(to /);
    const c = fresh();
    symlinkSync('nowhere', join(c.root, 'dangling'));
    expect(await refusal(c.root)).toBe(`virtio-net0 tftp ${c.root}: dangling: is a symlink to nothing (nics[0].tftp; nothing was sent)`);
    const e = fresh();
    mkdirSync(join(e.root, 'real'));
    symlinkSync('real', join(e.root, 'loop'));
    expect(await refusal(e.root)).toMatch(/: loop: is a symlink to a directory \(only a file may be a link here/);
    const f = fresh();
    execFileSync('mkfifo', [join(f.root, 'pipe')]);
    expect(await refusal(f.root)).toBe(`virtio-net0 tftp ${f.root}: pipe: is a FIFO; TFTP serves regular files only (nics[0].tftp; nothing was sent)`);
    const g = fresh();
    writeFileSync(join(g.root, 'bad\nname'), 'x');
    expect(await refusal(g.root)).toMatch(/: bad\nname: the path contains a NUL or control character \(nics\[0\]\.tftp; nothing was sent\)$/);
    expect(await refusal(join(g.d, 'missing'))).toMatch(
      new RegExp(`^virtio-net0 tftp ${join(g.d, 'missing')}: ENOENT.* \\(nics\\[0\\]\\.tftp; nothing was sent\\)$`),
    );
  });

  it('refuses a directory with too many files or too many bytes (a directory named by mistake)', async () => {
    const { root } = fresh();
    for (let i = 0; i <= TFTP_LIMITS.files; i++) writeFileSync(join(root, `f${String(i).padStart(4, '0')}`), '');
    expect(await refusal(root)).toMatch(new RegExp(`: f${TFTP_LIMITS.files}: is one file more than a tftp directory may hold \\(${TFTP_LIMITS.files}\\)`));
    const big = fresh();
    writeFileSync(join(big.root, 'a'), '');
    writeFileSync(join(big.root, 'b'), '');
    truncateSync(join(big.root, 'a'), TFTP_LIMITS.totalBytes); // sparse: no disk space taken
    truncateSync(join(big.root, 'b'), 1);
    expect(await refusal(big.root)).toMatch(/: b: takes the directory past 4294967296 bytes in all/);
  });
});
