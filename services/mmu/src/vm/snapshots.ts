// Save and restore of one VM's memory (the file format is ../snapshot.ts). A snapshot
// must hold the newest bytes, so Modified copies are recalled to Shared first; a restore
// replaces every byte, so it is refused while any page cache holds a page.
import type { AddressSpace } from '../address-space.js';
import type { Directory } from '../directory.js';
import { invalid, precondition } from '../errors.js';
import { applySnapshot, verifySnapshot, writeSnapshot, type SnapshotInfo } from '../snapshot.js';
import type { Coherence } from './coherence.js';
import type { DirtyLog } from './dirty-log.js';

/** Every page's newest bytes to `path` (holders keep Shared copies and run on). */
export async function takeSnapshot(space: AddressSpace, coherence: Coherence, path: string): Promise<SnapshotInfo> {
  space.assertLive();
  await coherence.downgradeAll();
  return writeSnapshot(space, path);
}

/** Replaces the VM's memory by a snapshot's; every resident page counts as written. */
export function restoreSnapshot(space: AddressSpace, dir: Directory, dirty: DirtyLog, path: string, sha256?: string): { pages: number; sha256: string } {
  space.assertLive();
  if (dir.anyHeld) {
    throw precondition(
      `vm "${space.vmId}" has ${dir.modifiedPages + dir.sharedPages} pages in page caches (${dir.holders.join(', ')}): stop it before restoring`,
    );
  }
  const h = verifySnapshot(path);
  if (sha256 && sha256 !== h.sha256) throw invalid(`${path} has checksum ${h.sha256}, not the ${sha256} asked for`);
  applySnapshot(space, path, h);
  if (dirty.on) dirty.markAll(space.residentGfns().map((g) => g - space.firstGfn));
  return { pages: h.pages, sha256: h.sha256 };
}
