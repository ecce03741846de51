// A file as an upload sees it: its sha256 (what names it in dom0's store) and its bytes in
// chunks of a fixed size (what crosses gRPC, one message each).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Bytes per UploadChunk: well under gRPC's 4 MiB default message limit, large enough
 *  that per-message cost is small beside the copy. */
export const CHUNK_BYTES = 1024 * 1024;

/** The file's bytes, `size` at a time (the last chunk may be shorter; none when empty). */
export async function* readChunks(path: string, size = CHUNK_BYTES): AsyncGenerator<Buffer> {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`chunk size ${size} is not a positive whole number`);
  let pending: Buffer[] = [];
  let held = 0;
  for await (const b of createReadStream(path, { highWaterMark: size }) as AsyncIterable<Buffer>) {
    pending.push(b);
    held += b.length;
    while (held >= size) {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      yield all.subarray(0, size);
      const rest = all.subarray(size);
      pending = rest.length ? [rest] : [];
      held = rest.length;
    }
  }
  if (held > 0) yield Buffer.concat(pending);
}

/** The sha256 of a file, lowercase hex; `onBytes` hears how far it got. */
export async function sha256OfFile(path: string, onBytes?: (n: number) => void): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    h.update(b);
    onBytes?.(b.length);
  }
  return h.digest('hex');
}
