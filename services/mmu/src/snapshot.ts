// A VM's memory as one file, for save/restore and migration to build on.
//
// Layout (little-endian):
//   0   8  magic "SVMEMSN1"
//   8   8  ramBase
//   16  8  ramSize
//   24  8  page records that follow
//   32  32 sha256 of bytes [0, 32) and of every record
//   64  records: gfn (8 bytes) then the page's 4096 bytes, ascending gfn
// Pages that read as zero are not stored; a restore makes every other page zero.
// The file is written beside its final name and renamed, so a reader never sees half.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, renameSync, writeSync, fstatSync, rmSync } from 'node:fs';
import { PAGE_SIZE, hex } from '@splitvisor/platform';
import type { AddressSpace } from './address-space.js';
import { invalid } from './errors.js';

const MAGIC = Buffer.from('SVMEMSN1');
const HEADER = 64;
const RECORD = 8 + PAGE_SIZE;
/** Records per read or write call. */
const BATCH = 64;

export interface SnapshotInfo {
  path: string;
  sha256: string;
  pages: number;
  bytes: number;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Writes every non-zero page of `space` to `path`. The caller has recalled pages held
 *  Modified, so the space's bytes are the newest. */
export function writeSnapshot(space: AddressSpace, path: string): SnapshotInfo {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const head = Buffer.alloc(HEADER);
    MAGIC.copy(head, 0);
    head.writeBigUInt64LE(BigInt(space.ramBase), 8);
    head.writeBigUInt64LE(BigInt(space.ramSize), 16);
    const hash = createHash('sha256');
    let pages = 0;
    let pos = HEADER;
    const batch = Buffer.alloc(BATCH * RECORD);
    let n = 0;
    const flush = () => {
      if (n === 0) return;
      hash.update(batch.subarray(0, n * RECORD));
      writeSync(fd, batch, 0, n * RECORD, pos);
      pos += n * RECORD;
      n = 0;
    };
    for (const gfn of space.residentGfns()) {
      const page = space.readPage(gfn);
      if (!page || isZero(page)) continue;
      batch.writeBigUInt64LE(BigInt(gfn), n * RECORD);
      page.copy(batch, n * RECORD + 8);
      pages++;
      if (++n === BATCH) flush();
    }
    flush();
    head.writeBigUInt64LE(BigInt(pages), 24);
    // The header's own fields are covered too: a snapshot moved to another layout fails.
    const sha = createHash('sha256').update(head.subarray(0, 32)).update(hash.digest()).digest();
    sha.copy(head, 32);
    writeSync(fd, head, 0, HEADER, 0);
    closeSync(fd);
    renameSync(tmp, path);
    return { path, sha256: sha.toString('hex'), pages, bytes: pos };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

export interface SnapshotHeader {
  ramBase: number;
  ramSize: number;
  pages: number;
  sha256: string;
}

/** Reads the header and checks the whole file against its checksum; throws naming the
 *  file when anything is off. */
export function verifySnapshot(path: string): SnapshotHeader {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(HEADER);
    if (readSync(fd, head, 0, HEADER, 0) !== HEADER || !head.subarray(0, 8).equals(MAGIC)) {
      throw invalid(`${path} is not a memory snapshot (bad header)`);
    }
    const h: SnapshotHeader = {
      ramBase: Number(head.readBigUInt64LE(8)),
      ramSize: Number(head.readBigUInt64LE(16)),
      pages: Number(head.readBigUInt64LE(24)),
      sha256: head.subarray(32, 64).toString('hex'),
    };
    const size = fstatSync(fd).size;
    if (size !== HEADER + h.pages * RECORD) {
      throw invalid(`${path} is ${size} bytes but its header promises ${h.pages} pages (${HEADER + h.pages * RECORD} bytes)`);
    }
    const hash = createHash('sha256');
    const buf = Buffer.alloc(BATCH * RECORD);
    for (let pos = HEADER; pos < size;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    const sha = createHash('sha256').update(head.subarray(0, 32)).update(hash.digest()).digest('hex');
    if (sha !== h.sha256) throw invalid(`${path}: checksum mismatch (header says ${h.sha256}, content hashes to ${sha})`);
    return h;
  } finally {
    closeSync(fd);
  }
}

/** Makes `space` hold exactly the snapshot's bytes. The caller checked the file
 *  (verifySnapshot) and that no page cache holds pages of the space. */
export function applySnapshot(space: AddressSpace, path: string, h: SnapshotHeader): void {
  if (h.ramBase !== space.ramBase || h.ramSize !== space.ramSize) {
    throw invalid(`${path} holds RAM [${hex(h.ramBase)}, ${hex(h.ramBase + h.ramSize)}) but vm "${space.vmId}" has ${space.describeRam()}`);
  }
  const fd = openSync(path, 'r');
  try {
    space.clearAll();
    const buf = Buffer.alloc(BATCH * RECORD);
    let pos = HEADER;
    for (let left = h.pages; left > 0;) {
      const n = Math.min(BATCH, left);
      readSync(fd, buf, 0, n * RECORD, pos);
      const pages = [];
      for (let i = 0; i < n; i++) {
        const gfn = Number(buf.readBigUInt64LE(i * RECORD));
        pages.push({ gfn, data: buf.subarray(i * RECORD + 8, (i + 1) * RECORD) });
      }
      space.writeBack(pages, false);
      pos += n * RECORD;
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}
