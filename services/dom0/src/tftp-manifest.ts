// A NIC's tftp directory as an upload carries it: a manifest of relative paths, each with
// the sha256 of a file sent into the store like any content file. Both ends hold it to the
// same rules: the CLI before it sends anything (a mistake is found on the user's side, with
// the user's path), dom0 again because a manifest is just what a client says, and each path
// becomes a file dom0 creates inside the VM's copy of the directory.
import { createHash } from 'node:crypto';
import { isSha256 } from './config-files.js';

/**
 * How much a tftp directory may hold. Generous for what boots over TFTP (a kernel, an
 * initrd, a few boot scripts and pxelinux.cfg entries), small enough that a directory
 * named by mistake ($HOME, /) is refused at once instead of hashed for an hour.
 */
export const TFTP_LIMITS = {
  files: 1000,
  /** Directory levels below the root: pxelinux.cfg/default is 1. */
  depth: 16,
  /** A TFTP request carries the name in one packet; real clients ask for short ones. */
  pathBytes: 255,
  /** All files together, as the CLI finds them (each file is also held to the store's cap). */
  totalBytes: 4 * 1024 ** 3,
} as const;

export interface TftpManifestEntry {
  path: string;
  sha256: string;
}

/** Why a manifest (or a directory the CLI walks) is refused; the message names the path. */
export class ManifestError extends Error {}

/**
 * What is wrong with `rel` as a path inside a tftp directory, or undefined when nothing:
 * relative, '/'-separated, no '.', '..' or empty components, no NUL or control characters
 * (a name with a newline in it is no name anyone types into a boot loader).
 */
export function tftpPathProblem(rel: string): string | undefined {
  if (rel === '') return 'is empty';
  if (rel.startsWith('/')) return 'is absolute (paths are relative to the tftp directory)';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(rel)) return 'contains a NUL or control character';
  if (Buffer.byteLength(rel) > TFTP_LIMITS.pathBytes) return `is longer than ${TFTP_LIMITS.pathBytes} bytes`;
  const parts = rel.split('/');
  if (parts.includes('..')) return "has a '..' component (it would leave the directory)";
  if (parts.includes('.') || parts.includes('')) return "has an empty or '.' component (write it as a plain a/b/c path)";
  if (parts.length - 1 > TFTP_LIMITS.depth) return `is more than ${TFTP_LIMITS.depth} directories deep`;
  return undefined;
}

/**
 * Checks a manifest as dom0 receives it: every path well-formed and given once, no path
 * both a file and a directory ("a" and "a/b"), every digest a sha256, at most
 * TFTP_LIMITS.files entries. `field` ("nics[0].tftp") starts each message.
 */
export function validateTftpManifest(field: string, entries: readonly TftpManifestEntry[]): void {
  if (entries.length > TFTP_LIMITS.files) {
    throw new ManifestError(`${field}: ${entries.length} files is more than a tftp directory may hold (${TFTP_LIMITS.files})`);
  }
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const [i, e] of entries.entries()) {
    const at = `${field}: tftpFiles[${i}]`;
    const problem = tftpPathProblem(e.path);
    if (problem !== undefined) throw new ManifestError(`${at}.path ${JSON.stringify(e.path)} ${problem}`);
    if (!isSha256(e.sha256)) throw new ManifestError(`${at}.sha256 ${JSON.stringify(e.sha256)} (${e.path}) is not 64 lowercase hex digits`);
    if (files.has(e.path)) throw new ManifestError(`${at}.path ${JSON.stringify(e.path)} is given twice`);
    if (dirs.has(e.path)) throw new ManifestError(`${at}.path ${JSON.stringify(e.path)} is also a directory of another entry`);
    files.add(e.path);
    const parts = e.path.split('/');
    for (let n = 1; n < parts.length; n++) {
      const dir = parts.slice(0, n).join('/');
      if (files.has(dir)) throw new ManifestError(`${at}.path ${JSON.stringify(e.path)} is inside ${JSON.stringify(dir)}, which is a file of another entry`);
      dirs.add(dir);
    }
  }
}

/** A name for the manifest's content (order does not matter): equal manifests, equal names,
 *  so a create that changes nothing finds its directory built already. */
export function manifestDigest(entries: readonly TftpManifestEntry[]): string {
  const h = createHash('sha256');
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) h.update(`${e.path}\0${e.sha256}\n`);
  return h.digest('hex');
}
