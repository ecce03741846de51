// CheckFiles and UploadFile: the image store (image-store.ts) on dom0's control API. They
// only translate: a header and chunks in, a verified file or a StoreError out.
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Dom0V1 } from '@splitvisor/proto';
import { failedPrecondition, invalidArgument, resourceExhausted, toRpcError, vmIdArg } from '@splitvisor/rpc';
import type { Logger } from '@splitvisor/log';
import { diskIndex, kindOfField, type FileKind } from './config-files.js';
import { StoreError, type ImageStore, type Receiver } from './image-store.js';

export interface UploadDeps {
  store: ImageStore;
  log: Logger;
  /** Whether a VM of this name exists and holds its devices (its stored disks are open). */
  vmInUse(vm: string): boolean;
}

function rpcError(e: unknown) {
  if (e instanceof StoreError) return e.kind === 'too-large' ? resourceExhausted(e.message) : invalidArgument(e.message);
  return toRpcError(e);
}

/** The very same file: one host (or one shared filesystem) sees one inode at that path. A
 *  tftp field names a directory: the same directory inode is the same tree of files. */
async function sameFile(f: Dom0V1.FileCheck__Output, kind: FileKind): Promise<boolean> {
  if (!f.path || !isAbsolute(f.path) || !f.identity) return false;
  const st = await stat(f.path).catch(() => undefined);
  if (st === undefined || !(kind === 'tftp' ? st.isDirectory() : st.isFile())) return false;
  const id = f.identity;
  return st.dev === id.dev && st.ino === id.ino && st.size === f.size && st.mtimeMs === id.mtimeMs;
}

export function checkFiles(deps: UploadDeps): (req: Dom0V1.CheckFilesRequest__Output) => Promise<Dom0V1.CheckFilesReply> {
  return async (req) => {
    const files = await Promise.all(
      req.files.map(async (f, i): Promise<Dom0V1.FileStatus> => {
        const kind = kindOfField(f.field);
        if (kind === undefined) throw invalidArgument(`files[${i}].field: ${JSON.stringify(f.field)} names no file of a VM config`);
        if (await sameFile(f, kind)) return { field: f.field, sameFile: true };
        // The CLI's first question (can dom0 open it in place?) carries no digest yet: a
        // content file (or tftp directory) that is not the same is simply not known to be here.
        if (kind !== 'disk' && !f.sha256) return { field: f.field, present: false };
        // A tftp directory's files are asked about one by one, each by its digest.
        if (kind !== 'disk') return { field: f.field, present: await deps.store.hasContent(f.sha256).catch((e: unknown) => Promise.reject(rpcError(e))) };
        const vm = vmIdArg(req.vm, 'vm');
        return { field: f.field, seedSha256: (await deps.store.diskSeed(vm, diskIndex(f.field))) ?? '' };
      }),
    );
    return { files };
  };
}

export function uploadFile(deps: UploadDeps): grpc.handleClientStreamingCall<Dom0V1.UploadChunk__Output, Dom0V1.UploadFileReply> {
  return (call, callback) => {
    let rx: Receiver | undefined;
    // A client that goes away mid-stream: the partial file goes with it.
    call.on('cancelled', () => call.destroy(new Error('cancelled by the client')));
    void (async () => {
      for await (const msg of call as AsyncIterable<Dom0V1.UploadChunk__Output>) {
        if (rx === undefined) {
          const h = msg.header;
          if (!h) throw invalidArgument('the first UploadChunk must carry the header (field, name, sha256, size)');
          if (h.vm) {
            const vm = vmIdArg(h.vm, 'header.vm');
            if (deps.vmInUse(vm)) {
              throw failedPrecondition(`${h.field} ${h.name}: vm "${vm}" exists and its stored disks are in use; destroy it before sending its disk again`);
            }
          }
          rx = await deps.store.receive({ field: h.field, name: h.name, sha256: h.sha256, size: h.size, ...(h.vm && { vm: h.vm }) });
        } else if (msg.header) {
          throw invalidArgument('header: only the first UploadChunk carries one');
        }
        if (msg.data.length > 0) await rx.write(msg.data);
      }
      if (rx === undefined) throw invalidArgument('an empty upload: no header was sent');
      const r = await rx.finish();
      deps.log.info({ file: r.path, sha256: r.sha256, bytes: r.bytes }, 'upload stored');
      return { sha256: r.sha256, bytes: r.bytes, storedAs: r.path };
    })().then(
      (reply) => callback(null, reply),
      async (e: unknown) => {
        await rx?.abort();
        const err = rpcError(e);
        deps.log.warn({ err: err.message, bytes: rx?.bytes ?? 0 }, 'upload refused');
        callback(err.toServiceError() as grpc.ServiceError);
      },
    );
  };
}
