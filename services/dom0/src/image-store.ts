// dom0's image store: the files a CLI on another host uploads for its VMs, in one directory
// (SPLITVISOR_IMAGE_DIR; in compose the `images` volume, which io-backend mounts too).
//
//   <dir>/sha256/<hex>             content files (image, firmware, kernel, initrd), read-only,
//                                  named by their digest: one copy whoever names it
//   <dir>/disks/<vm>/disk<i>.raw   disks[i] of VM <vm>: the guest writes it, so it is the
//                                  VM's own, kept across runs like a volume
//   <dir>/disks/<vm>/disk<i>.json  the sha256 of the client file that seeded it
//   <dir>/tftp/<vm>/nic<i>-<id>/   nics[i].tftp of VM <vm>: hard links (or copies) of content
//                                  files, laid out as the CLI's manifest says; <id> names
//                                  the manifest, so a changed one is a new directory, built
//                                  aside and renamed in whole, never edited under io-backend
//   <dir>/tmp/                     uploads and directories in progress, renamed into place
//                                  once complete
//
// A file is stored only when every byte the header promised arrived and hashes to the
// digest it named; anything else removes the partial file. Network-free: upload-handlers.ts
// adapts it to gRPC.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { chmod, copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isVmId } from '@splitvisor/platform';
import { diskIndex, isSha256, kindOfField } from './config-files.js';
import { manifestDigest, type TftpManifestEntry } from './tftp-manifest.js';

/** Where the store lives when SPLITVISOR_IMAGE_DIR is not set: the user's data directory. */
export function defaultImageDir(env: NodeJS.ProcessEnv = process.env): string {
  const data = env['XDG_DATA_HOME'] || join(homedir(), '.local', 'share');
  return join(data, 'splitvisor', 'images');
}

function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** "8G", "512M", "1048576": the most bytes one stored file may have. */
export function parseByteSize(raw: string): number {
  const m = /^\s*(\d+)\s*(|K|KiB|M|MiB|G|GiB)\s*$/i.exec(raw);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').charAt(0).toLowerCase()];
  const n = m && unit ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`"${raw}" is not a size like 8G, 512M or a number of bytes`);
  return n;
}

/**
 * The store at `dir`; when that is the default and cannot be made (a home directory that is
 * not writable), a per-user one under the temp directory instead, with `warn` told why.
 * A directory someone chose is never swapped for another: its failure stops dom0.
 */
export async function openImageStore(dir: string, maxFileBytes: number, warn: (msg: string) => void): Promise<ImageStore> {
  try {
    return await ImageStore.open(dir, maxFileBytes);
  } catch (e) {
    if (dir !== defaultImageDir()) throw new Error(`image store ${dir} (SPLITVISOR_IMAGE_DIR): ${(e as Error).message}`);
    const fallback = join(tmpdir(), `splitvisor-images-${process.getuid?.() ?? 'user'}`);
    warn(`image store ${dir}: ${(e as Error).message}; using ${fallback} (set SPLITVISOR_IMAGE_DIR to choose)`);
    return ImageStore.open(fallback, maxFileBytes);
  }
}

/** Why an upload or a lookup was refused; `kind` picks the gRPC status at the edge. */
export class StoreError extends Error {
  constructor(
    readonly kind: 'invalid' | 'too-large' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** What an upload says it is (UploadHeader). */
export interface IncomingFile {
  /** The config field that names it ("image", "disks[0].path"). */
  field: string;
  /** The file as the client names it, for messages. */
  name: string;
  sha256: string;
  size: number;
  /** A disk's VM; absent for a content file or a tftp directory's file. */
  vm?: string;
}

export interface StoredResult {
  path: string;
  sha256: string;
  bytes: number;
}

export class ImageStore {
  private constructor(
    readonly dir: string,
    /** The largest file the store takes (SPLITVISOR_UPLOAD_MAX). */
    readonly maxFileBytes: number,
  ) {}

  /** Opens (creating) the store; uploads a dom0 that is gone left half-done are removed
   *  (several dom0s may share one store: the labs of one user, by default). */
  static async open(dir: string, maxFileBytes: number): Promise<ImageStore> {
    for (const sub of ['sha256', 'disks', 'tftp', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
    for (const f of await readdir(join(dir, 'tmp'))) {
      const pid = Number(f.split('-')[0]);
      // recursive: a tftp directory half built is a directory.
      if (!pidAlive(pid)) await rm(join(dir, 'tmp', f), { recursive: true, force: true });
    }
    return new ImageStore(dir, maxFileBytes);
  }

  contentPath(sha256: string): string {
    if (!isSha256(sha256)) throw new StoreError('invalid', `sha256: ${JSON.stringify(sha256)} is not 64 lowercase hex digits`);
    return join(this.dir, 'sha256', sha256);
  }

  diskPath(vm: string, index: number): string {
    return join(this.diskDir(vm), `disk${index}.raw`);
  }

  private diskDir(vm: string): string {
    if (!isVmId(vm)) throw new StoreError('invalid', `vm: ${JSON.stringify(vm)} is not a VM name`);
    return join(this.dir, 'disks', vm);
  }

  private tftpRoot(vm: string): string {
    if (!isVmId(vm)) throw new StoreError('invalid', `vm: ${JSON.stringify(vm)} is not a VM name`);
    return join(this.dir, 'tftp', vm);
  }

  private tmpPath(): string {
    return join(this.dir, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /**
   * The VM's copy of its NIC `index`'s tftp directory, built from content files the store
   * holds (the caller checked the manifest, tftp-manifest.ts, and that each digest is here).
   * Hard links: no bytes copied, and the files stay read-only; a copy where the store spans
   * file systems. Built under tmp/ and renamed into place whole, so io-backend never sees
   * a directory half made; an identical manifest reuses the directory built before.
   */
  async materializeTftp(vm: string, index: number, entries: readonly TftpManifestEntry[]): Promise<string> {
    const dest = join(this.tftpRoot(vm), `nic${index}-${manifestDigest(entries).slice(0, 16)}`);
    if ((await stat(dest).catch(() => undefined))?.isDirectory()) return dest;
    const tmp = this.tmpPath();
    try {
      await mkdir(tmp);
      for (const e of entries) {
        const to = join(tmp, ...e.path.split('/'));
        await mkdir(dirname(to), { recursive: true });
        const from = this.contentPath(e.sha256);
        await link(from, to).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EXDEV' || err.code === 'EPERM' || err.code === 'EMLINK') return copyFile(from, to);
          throw err;
        });
      }
      await mkdir(dirname(dest), { recursive: true });
      await rename(tmp, dest).catch(async (err: NodeJS.ErrnoException) => {
        // Another create of the same manifest finished first: its directory is this one.
        if ((err.code === 'ENOTEMPTY' || err.code === 'EEXIST') && (await stat(dest).catch(() => undefined))?.isDirectory()) return;
        throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return dest;
  }

  /** Removes the VM's tftp directories other than `keep` (those its config now names):
   *  each create with a changed manifest builds a new one. */
  async pruneTftp(vm: string, keep: ReadonlySet<string>): Promise<string[]> {
    const root = this.tftpRoot(vm);
    const names = await readdir(root).catch(() => [] as string[]);
    const gone = names.map((n) => join(root, n)).filter((p) => !keep.has(p));
    for (const p of gone) await rm(p, { recursive: true, force: true });
    if (gone.length === names.length) await rm(root, { recursive: true, force: true });
    return gone;
  }

  private seedPath(vm: string, index: number): string {
    return join(this.diskDir(vm), `disk${index}.json`);
  }

  /** Whether the store holds a verified file of this digest. */
  async hasContent(sha256: string): Promise<boolean> {
    const st = await stat(this.contentPath(sha256)).catch(() => undefined);
    return st?.isFile() ?? false;
  }

  /** The digest of the client file that seeded the VM's stored disk i, if it has one. */
  async diskSeed(vm: string, index: number): Promise<string | undefined> {
    const [seed, st] = await Promise.all([
      readFile(this.seedPath(vm, index), 'utf8').then(
        (t) => (JSON.parse(t) as { sha256?: string }).sha256,
        () => undefined,
      ),
      stat(this.diskPath(vm, index)).catch(() => undefined),
    ]);
    return st?.isFile() && seed !== undefined && isSha256(seed) ? seed : undefined;
  }

  /** Checks a header and opens a temporary file for its bytes. */
  async receive(h: IncomingFile): Promise<Receiver> {
    const what = `${h.field} ${h.name || '(unnamed)'}`;
    const kind = kindOfField(h.field);
    if (kind === undefined)
      throw new StoreError(
        'invalid',
        `header.field: ${JSON.stringify(h.field)} names no file of a VM config (image, firmware, kernel, initrd, disks[i].path, nics[i].tftp)`,
      );
    if (!isSha256(h.sha256)) throw new StoreError('invalid', `${what}: header.sha256 ${JSON.stringify(h.sha256)} is not 64 lowercase hex digits`);
    // A tftp directory may well hold an empty file (a flag a boot script tests for).
    if (!Number.isSafeInteger(h.size) || h.size < 0 || (h.size === 0 && kind !== 'tftp')) {
      throw new StoreError('invalid', `${what}: header.size ${h.size}: an empty file is no image or disk`);
    }
    if (h.size > this.maxFileBytes) {
      throw new StoreError('too-large', `${what}: ${h.size} bytes is more than this dom0 takes (${this.maxFileBytes} bytes, SPLITVISOR_UPLOAD_MAX)`);
    }
    let dest: string;
    let seed: string | undefined;
    if (kind === 'disk') {
      if (!h.vm) throw new StoreError('invalid', `${what}: header.vm is required for a disk (it is stored as that VM's)`);
      const i = diskIndex(h.field);
      dest = this.diskPath(h.vm, i);
      seed = this.seedPath(h.vm, i);
      await mkdir(this.diskDir(h.vm), { recursive: true });
    } else {
      if (h.vm) throw new StoreError('invalid', `${what}: header.vm is for disks only (a ${kind === 'tftp' ? 'tftp file' : h.field} is stored by its digest)`);
      dest = this.contentPath(h.sha256);
    }
    const tmp = this.tmpPath();
    return new Receiver(what, h, await open(tmp, 'wx', 0o600), tmp, dest, seed);
  }
}

/** One upload on its way into the store. */
export class Receiver {
  private readonly hash: Hash = createHash('sha256');
  private received = 0;
  private closed = false;

  constructor(
    private readonly what: string,
    private readonly header: IncomingFile,
    private readonly fd: FileHandle,
    private readonly tmp: string,
    private readonly dest: string,
    private readonly seed: string | undefined,
  ) {}

  get bytes(): number {
    return this.received;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.received + chunk.length > this.header.size) {
      throw new StoreError('corrupt', `${this.what}: more bytes than the header's size of ${this.header.size}; nothing was stored`);
    }
    this.received += chunk.length;
    this.hash.update(chunk);
    await this.fd.write(chunk);
  }

  /** Verifies size and digest, then moves the file into place; refuses (and removes it)
   *  otherwise. */
  async finish(): Promise<StoredResult> {
    const { size, sha256 } = this.header;
    if (this.received < size) {
      throw new StoreError('corrupt', `${this.what}: truncated: received ${this.received} of ${size} bytes; nothing was stored`);
    }
    const got = this.hash.digest('hex');
    if (got !== sha256) {
      throw new StoreError(
        'corrupt',
        `${this.what}: sha256 mismatch: the header says ${sha256}, the ${this.received} bytes received hash to ${got}; nothing was stored`,
      );
    }
    await this.fd.sync();
    await this.close();
    if (this.seed === undefined) {
      // Content is never written after this: read-only guards it against a stray open.
      await chmod(this.tmp, 0o444);
    } else {
      await chmod(this.tmp, 0o644);
      const seedTmp = `${this.tmp}.json`;
      await writeFile(seedTmp, JSON.stringify({ sha256, name: this.header.name, size, at: new Date().toISOString() }) + '\n');
      await rename(seedTmp, this.seed);
    }
    await rename(this.tmp, this.dest);
    return { path: this.dest, sha256, bytes: this.received };
  }

  /** Drops the partial file (a stream that failed or was cancelled). */
  async abort(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
    await rm(`${this.tmp}.json`, { force: true });
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fd.close();
  }
}
