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
import { ConfigError, parseVmConfig } from '../vm-config.js';
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
  if (!st.isFile()) throw fail(f.kind === 'disk' ? 'is not a regular file (a raw disk image is)' : 'is not a regular file');
  if (st.size === 0) throw fail('is empty');
  return { ...f, size: st.size, identity: { dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs } };
}

/** Sends one file as an UploadFile stream, chunk by chunk, waiting whenever gRPC's buffer is full. */
async function sendFile(c: Dom0Client, f: LocalFile, vm: string | undefined, progress: UploadProgress): Promise<Dom0V1.UploadFileReply__Output> {
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
  for (const f of rest) f.sha256 = await sha256OfFile(f.path);
  const check = await c.call('CheckFiles', { vm, files: rest.map((f) => ({ field: f.field, size: f.size, sha256: f.kind === 'content' ? f.sha256! : '' })) });
  const status = new Map(check.files.map((s) => [s.field, s]));
  const stored: Dom0V1.StoredFile[] = [];
  let sent = 0;
  let sendMs = 0;
  for (const f of rest) {
    const s = status.get(f.field);
    const there = f.kind === 'disk' ? s?.seedSha256 === f.sha256 : s?.present === true;
    if (there) outcome(f, 'already there');
    else {
      const t0 = Date.now();
      const r = await sendFile(c, f, f.kind === 'disk' ? vm : undefined, opts.progress);
      sendMs += Date.now() - t0;
      sent += Number(r.bytes);
      outcome(f, 'sent', Number(r.bytes));
    }
    stored.push(f.kind === 'disk' ? { field: f.field } : { field: f.field, sha256: f.sha256! });
  }
  opts.progress.end(uploadSummary(outcomes, sendMs));
  return { stored, files: outcomes, sent, elsewhere };
}
