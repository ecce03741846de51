// A NIC's tftp directory as the CLI reads it before sending it to dom0: every regular file
// under it, subdirectories included (TFTP clients ask for "pxelinux.cfg/default"), named by
// its path relative to the directory. What TFTP could not serve, or what would put files
// from elsewhere into the VM's copy, is refused before anything is sent:
// - a symlink is followed only to a file inside the directory (io-backend's TFTP server
//   refuses one leading out too); a symlink to a directory is refused, since one may loop;
// - sockets, FIFOs and devices are no files to serve;
// - more than TFTP_LIMITS allows (files, depth, path length, total bytes) is most likely a
//   directory named by mistake ($HOME), better refused at once than hashed at length.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Stats } from 'node:fs';
import type { ConfigFile } from '../config-files.js';
import { ManifestError, TFTP_LIMITS, tftpPathProblem } from '../tftp-manifest.js';

export interface TftpDirFile {
  /** Relative to the directory, '/'-separated: what a TFTP client asks for. */
  rel: string;
  /** Absolute, on this host (through a symlink, the link: it is read as the file). */
  path: string;
  size: number;
}

function what(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  return 'not a regular file';
}

/**
 * The files of the tftp directory `dir` names (dir.field is "nics[i].tftp"), sorted by
 * path. Each refusal is a ManifestError naming the field, the directory, the path inside it
 * and the problem.
 */
export async function readTftpDir(dir: Pick<ConfigFile, 'field' | 'label' | 'path'>): Promise<TftpDirFile[]> {
  const fail = (rel: string, problem: string) =>
    new ManifestError(`${dir.label} ${dir.path}: ${rel === '' ? '' : `${rel}: `}${problem} (${dir.field}; nothing was sent)`);
  const root = await realpath(dir.path).catch((e: Error) => {
    throw fail('', e.message);
  });
  const inside = (p: string) => {
    const r = relative(root, p);
    return r !== '' && r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r);
  };
  const out: TftpDirFile[] = [];
  let total = 0;
  const visit = async (relDir: string): Promise<void> => {
    const names = await readdir(join(dir.path, relDir)).catch((e: Error) => {
      throw fail(relDir, e.message);
    });
    for (const name of names.sort()) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      const problem = tftpPathProblem(rel);
      if (problem !== undefined) throw fail(rel, `the path ${problem}`);
      const path = join(dir.path, rel);
      let st = await lstat(path).catch((e: Error) => {
        throw fail(rel, e.message);
      });
      if (st.isSymbolicLink()) {
        const target = await realpath(path).catch(() => undefined);
        if (target === undefined) throw fail(rel, 'is a symlink to nothing');
        if (!inside(target)) throw fail(rel, `is a symlink leaving the directory (to ${target})`);
        st = await stat(path).catch((e: Error) => {
          throw fail(rel, e.message);
        });
        if (st.isDirectory()) throw fail(rel, 'is a symlink to a directory (only a file may be a link here: a linked directory can loop)');
      }
      if (st.isDirectory()) {
        await visit(rel);
        continue;
      }
      if (!st.isFile()) throw fail(rel, `is ${what(st)}; TFTP serves regular files only`);
      if (out.length === TFTP_LIMITS.files) throw fail(rel, `is one file more than a tftp directory may hold (${TFTP_LIMITS.files})`);
      total += st.size;
      if (total > TFTP_LIMITS.totalBytes)
        throw fail(rel, `takes the directory past ${TFTP_LIMITS.totalBytes} bytes in all, more than a tftp directory may hold`);
      out.push({ rel, path, size: st.size });
    }
  };
  await visit('');
  return out;
}
