// `run` and `create` against a dom0 that may be on another host: the files a config names
// are sent to dom0's image store first (dom0's image-store.ts), and CreateVm names the
// stored copies.
//
// - Content files (image, firmware, kernel, initrd) go by sha256: dom0 is asked which
//   digests it holds (CheckFiles) and only the others are streamed (UploadFile), so an
//   unchanged file is never sent twice, to any number of VMs.
// - A disk is the VM's own: the guest writes it. When dom0 sees the very same file at the
//   same path (one host: the lab of `splitvisor up`), it is used in place, as before, and
//   the guest's writes land in it. Otherwise it is sent once into the store under the VM's
//   name and kept there like a volume; it is sent again only when the local file changed
//   (its digest is not the one that seeded the stored disk), replacing the stored one.
// - A NIC's tftp directory: when dom0 sees the very same directory it is used in place.
//   Otherwise each of its files (tftp-dir.ts reads them, subdirectories included) goes by
//   sha256 like a content file, and CreateVm carries the manifest (path -> sha256), from
//   which dom0 builds the VM's copy of the directory in its store for io-backend to serve.
// - A path this host does not have is left in the config for dom0 to open on its own side
//   (a file inside dom0's container, say); if dom0 lacks it too, its error says so.
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Dom0V1 } from '@splitvisor/proto';
import { deadlineIn, RpcError, type RpcClient } from '@splitvisor/rpc';
import { filesOf, type ConfigFile } from '../config-files.js';
import { readChunks, sha256OfFile } from '../file-digest.js';
import { ManifestError } from '../tftp-manifest.js';
import { ConfigError, parseVmConfig } from '../vm-config.js';
import { readTftpDir } from './tftp-dir.js';
import { uploadSummary, type FileOutcome, type UploadProgress } from './upload-progress.js';

type Dom0Client = RpcClient<Dom0V1.Dom0Client>;

/** A file the CLI cannot send: names the field and the path. */
export class UploadError extends Error {}

export interface ConfigRequest {
  configYaml: string;
  baseDir: string;
  source: string;
}

export interface UploadResult {
  stored: Dom0V1.StoredFile[];
  files: FileOutcome[];
  /** Bytes streamed to dom0. */
  sent: number;
  /** Paths this host does not have, left for dom0 to open on its own side. */
  elsewhere: string[];
}

interface LocalFile extends ConfigFile {
  size: number;
  identity: { dev: number; ino: number; mtimeMs: number };
  sha256?: string;
  /** A tftp directory's files, once read (sent as content, each by its sha256). */
  tree?: TftpLocal[];
}

/** One file of a tftp directory: sent like a content file under the directory's field. */
interface TftpLocal {
  rel: string;
  path: string;
  size: number;
  sha256: string;
}

/** The file as this host has it; undefined when this host has no such path, which then
 *  stays in the config for dom0 to open on its side (a path inside dom0's container). */
async function statLocal(f: ConfigFile): Promise<LocalFile | undefined> {
  const fail = (problem: string) => new UploadError(`${f.label} ${f.path}: ${problem} on this host (${f.field}; nothing was sent)`);
  const st = await stat(f.path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw fail(e.message);
  });
  if (st === undefined) return undefined;
  if (f.kind === 'tftp') {
    if (!st.isDirectory()) throw fail('is not a directory (a tftp: field names the directory the gateway serves)');
    return { ...f, size: st.size, identity: { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs } };
  }
  if (!st.isFile()) throw fail(f.kind === 'disk' ? 'is not a regular file (a raw disk image is)' : 'is not a regular file');
  if (st.size === 0) throw fail('is empty');
  return { ...f, size: st.size, identity: { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs } };
}

/** Sends one file as an UploadFile stream, chunk by chunk, waiting whenever gRPC's buffer is full. */
type Sendable = Pick<LocalFile, 'field' | 'path' | 'label' | 'size' | 'sha256'>;

async function sendFile(c: Dom0Client, f: Sendable, vm: string | undefined, progress: UploadProgress): Promise<Dom0V1.UploadFileReply__Output> {
  // A generous deadline: 30 s plus a second per MiB (a slow link still finishes).
  const deadline = deadlineIn(30_000 + Math.ceil(f.size / 1048576) * 1000);
  let call: grpc.ClientWritableStream<Dom0V1.UploadChunk> | undefined;
  const reply = new Promise<Dom0V1.UploadFileReply__Output>((resolve, reject) => {
    call = c.raw.UploadFile({ deadline }, (err, res) => {
      if (err) reject(RpcError.fromGrpc(err, `${c.address} UploadFile`));
      else resolve(res!);
    });
  });
  const stream = call!;
  // The reply (the callback) says why a stream failed; the stream's own error adds nothing.
  stream.on('error', () => undefined);
  progress.file(`${f.label} ${basename(f.path)}`, f.size);
  const failed = reply.then(
    () => undefined,
    () => undefined,
  );
  stream.write({ header: { field: f.field, name: f.path, sha256: f.sha256!, size: f.size, ...(vm !== undefined && { vm }) } });
  try {
    for await (const chunk of readChunks(f.path)) {
      if (!stream.write({ data: chunk })) {
        // Full: wait for room, unless dom0 has answered already (a refusal says why).
        const waited = await Promise.race([once(stream, 'drain').then(() => 'drained'), failed.then(() => 'answered')]);
        if (waited === 'answered') break;
      }
      progress.sent(chunk.length);
    }
  } catch (e) {
    // The file went away or became unreadable since it was hashed: dom0 drops the partial copy.
    stream.cancel();
    await failed;
    throw new UploadError(`${f.label} ${f.path}: ${(e as Error).message} while sending it (nothing was stored)`);
  }
  stream.end();
  return reply;
}

/** How `run` and `create` send files: `inPlace` lets dom0 use a file it can open as it
 *  is (SPLITVISOR_UPLOAD=always turns that off: everything goes through the store). */
export interface UploadOptions {
  inPlace: boolean;
  progress: UploadProgress;
}

/** SPLITVISOR_UPLOAD: "always" stores every file even where dom0 could open it in place. */
export function uploadOptionsFromEnv(progress: UploadProgress, env: NodeJS.ProcessEnv = process.env): UploadOptions {
  const v = env['SPLITVISOR_UPLOAD'] ?? '';
  if (v !== '' && v !== 'always' && v !== 'auto') throw new UploadError(`SPLITVISOR_UPLOAD: ${JSON.stringify(v)} is not "auto" (the default) or "always"`);
  return { inPlace: v !== 'always', progress };
}

/**
 * Sends dom0 what it lacks of the files `req`'s config names and returns the StoredFile
 * list for CreateVm. A config that does not parse sends nothing: dom0's CreateVm names
 * the field at fault, as without uploads. Says nothing when dom0 opens every file in place.
 */
export async function uploadConfigFiles(c: Dom0Client, req: ConfigRequest, opts: UploadOptions): Promise<UploadResult> {
  let cfg;
  try {
    cfg = parseVmConfig(req.configYaml, req.baseDir, req.source);
  } catch (e) {
    if (e instanceof ConfigError) return { stored: [], files: [], sent: 0, elsewhere: [] };
    throw e;
  }
  const vm = cfg.name;
  const named = filesOf(cfg);
  const local = await Promise.all(named.map(statLocal));
  const files = local.filter((f) => f !== undefined);
  const elsewhere = named.filter((_, i) => local[i] === undefined).map((f) => f.path);
  const outcomes: FileOutcome[] = [];
  const outcome = (f: LocalFile, status: FileOutcome['status'], bytes = 0) => outcomes.push({ label: f.label, name: basename(f.path), status, bytes });
  // First: which files dom0 opens where they are (no digest needed for those).
  let rest = files;
  if (opts.inPlace && files.length > 0) {
    const here = await c.call('CheckFiles', { vm, files: files.map((f) => ({ field: f.field, size: f.size, path: f.path, identity: f.identity })) });
    const same = new Set(here.files.filter((s) => s.sameFile).map((s) => s.field));
    for (const f of files) if (same.has(f.field)) outcome(f, 'opened in place');
    rest = files.filter((f) => !same.has(f.field));
  }
  if (rest.length === 0) return { stored: [], files: outcomes, sent: 0, elsewhere };
  // The others go through the store: dom0 says which digests (and disk seeds) it holds.
  // One question per file, a tftp directory's files under its field; the answers come in
  // the order asked.
  const asks: Dom0V1.FileCheck[] = [];
  for (const f of rest) {
    if (f.kind === 'tftp') {
      f.tree = await tftpTree(f);
      for (const t of f.tree) asks.push({ field: f.field, size: t.size, sha256: t.sha256 });
      continue;
    }
    f.sha256 = await sha256OfFile(f.path);
    asks.push({ field: f.field, size: f.size, sha256: f.kind === 'content' ? f.sha256 : '' });
  }
  const check = asks.length > 0 ? await c.call('CheckFiles', { vm, files: asks }) : { files: [] };
  if (check.files.length !== asks.length) throw new UploadError(`dom0 answered ${check.files.length} of the ${asks.length} files asked about (CheckFiles)`);
  const answers = check.files.values();
  const stored: Dom0V1.StoredFile[] = [];
  // A digest sent once is there for every later file of the same bytes (a kernel that is
  // also in the tftp directory, two NICs serving one directory).
  const sentDigests = new Set<string>();
  let sent = 0;
  let sendMs = 0;
  const send = async (f: Sendable, diskOf?: string) => {
    const t0 = Date.now();
    const r = await sendFile(c, f, diskOf, opts.progress);
    sendMs += Date.now() - t0;
    sent += Number(r.bytes);
    if (diskOf === undefined) sentDigests.add(f.sha256!);
    return Number(r.bytes);
  };
  for (const f of rest) {
    if (f.kind === 'tftp') {
      let bytes = 0;
      let count = 0;
      for (const t of f.tree!) {
        if (answers.next().value?.present === true || sentDigests.has(t.sha256)) continue;
        bytes += await send({ field: f.field, path: t.path, label: f.label, size: t.size, sha256: t.sha256 });
        count++;
      }
      const n = f.tree!.length;
      // "tftp/ (2 of 3 files)" when some were there already (or repeat another's bytes).
      const name = `${basename(f.path)}/ (${count > 0 && count < n ? `${count} of ` : ''}${n} file${n === 1 ? '' : 's'})`;
      outcomes.push({ label: f.label, name, status: count > 0 ? 'sent' : 'already there', bytes });
      stored.push({ field: f.field, tftpFiles: f.tree!.map((t) => ({ path: t.rel, sha256: t.sha256 })) });
      continue;
    }
    const s = answers.next().value;
    const there = f.kind === 'disk' ? s?.seedSha256 === f.sha256 : s?.present === true || sentDigests.has(f.sha256!);
    if (there) outcome(f, 'already there');
    else outcome(f, 'sent', await send(f, f.kind === 'disk' ? vm : undefined));
    stored.push(f.kind === 'disk' ? { field: f.field } : { field: f.field, sha256: f.sha256! });
  }
  opts.progress.end(uploadSummary(outcomes, sendMs));
  return { stored, files: outcomes, sent, elsewhere };
}

/** A tftp directory's files with their digests; a directory the CLI will not send (tftp-dir.ts) is an UploadError. */
async function tftpTree(f: LocalFile): Promise<TftpLocal[]> {
  try {
    const files = await readTftpDir(f);
    const out: TftpLocal[] = [];
    for (const t of files) {
      const sha256 = await sha256OfFile(t.path).catch((e: Error) => {
        throw new UploadError(`${f.label} ${f.path}: ${t.rel}: ${e.message} (${f.field}; nothing was sent)`);
      });
      out.push({ ...t, sha256 });
    }
    return out;
  } catch (e) {
    if (e instanceof ManifestError) throw new UploadError(e.message);
    throw e;
  }
}
