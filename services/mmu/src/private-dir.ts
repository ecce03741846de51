// mmu's data dir holds every guest's RAM: it must be this user's alone. The old default was a
// predictable path under /tmp, where another local user could plant a directory (or a link)
// first and read guests' memory, or leave VMs for mmu to adopt at start. Here a data dir is
// created 0700 where missing, and refused, naming the path and the problem, when it is a
// link, another user's, or open to group or others, as ssh refuses a key file.
import { lstatSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export class PrivateDirError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`mmu data dir ${path}: ${problem}`);
    this.name = 'PrivateDirError';
  }
}

/**
 * Creates `dir` (and the parents it creates) with mode 0700, then checks `dir` and each
 * parent it created: a real directory, owned by this user, no access for group or others.
 */
export function ensurePrivateDir(dir: string): void {
  const path = resolve(dir);
  const created: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    if (exists(p)) break;
    created.unshift(p);
    if (dirname(p) === p) break;
  }
  mkdirSync(path, { recursive: true, mode: 0o700 });
  for (const p of created.includes(path) ? created : [...created, path]) checkPrivate(p);
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Refuses a path that is not a directory of this user's that only it may enter. */
export function checkPrivate(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) throw new PrivateDirError(path, 'is a symbolic link; give the real directory');
  if (!st.isDirectory()) throw new PrivateDirError(path, 'is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new PrivateDirError(path, `belongs to uid ${st.uid}, not to this user (uid ${uid})`);
  if ((st.mode & 0o077) !== 0) {
    throw new PrivateDirError(path, `has mode 0${(st.mode & 0o777).toString(8)}: group and others may enter it; chmod 700 it`);
  }
}
