// CreateVm with uploaded files: the config as the user wrote it, with each field the client
// uploaded (CreateVmRequest.stored) pointing at the stored copy instead, so the config dom0
// keeps in KV, and every reboot's reload, name the file in the store. A NIC's tftp directory
// becomes the VM's copy of it in the store, built from the files the client listed.
import { parse as parseYaml, stringify } from 'yaml';
import { invalidArgument } from '@splitvisor/rpc';
import type { Dom0V1 } from '@splitvisor/proto';
import { diskIndex, kindOfField, nicIndex, shortDigest } from './config-files.js';
import { ConfigError, parseVmConfig } from './vm-config.js';
import type { ImageStore } from './image-store.js';
import { ManifestError, validateTftpManifest } from './tftp-manifest.js';

/** The config text to create from: `configYaml` itself when nothing was uploaded. */
export async function withStoredFiles(
  store: ImageStore,
  req: Pick<Dom0V1.CreateVmRequest__Output, 'configYaml' | 'baseDir' | 'source' | 'stored'>,
): Promise<string> {
  if (req.stored.length === 0) return req.configYaml;
  const source = req.source || 'vm config';
  let name: string;
  try {
    // Errors about the config name the user's fields and paths, before any is replaced.
    name = parseVmConfig(req.configYaml, req.baseDir || process.cwd(), source).name;
  } catch (e) {
    if (e instanceof ConfigError) throw invalidArgument(e.message);
    throw e;
  }
  const o = parseYaml(req.configYaml) as Record<string, unknown>;
  const seen = new Set<string>();
  for (const [i, s] of req.stored.entries()) {
    const at = `stored[${i}]`;
    const kind = kindOfField(s.field);
    if (kind === undefined) throw invalidArgument(`${at}.field: ${JSON.stringify(s.field)} names no file of a VM config`);
    if (seen.has(s.field)) throw invalidArgument(`${at}.field: ${s.field} is given twice`);
    seen.add(s.field);
    if (kind !== 'tftp' && s.tftpFiles.length > 0) throw invalidArgument(`${at}.tftpFiles: only a nics[i].tftp field lists files (${s.field} does not)`);
    if (kind === 'tftp') {
      o['nics'] = await storedTftp(store, name, o['nics'], s, at, source);
      continue;
    }
    if (kind === 'content') {
      if (o[s.field] === undefined) throw invalidArgument(`${at}.field: ${source} has no ${s.field}: to replace`);
      const path = store.contentPath(s.sha256);
      if (!(await store.hasContent(s.sha256))) {
        throw invalidArgument(`${s.field}: ${shortDigest(s.sha256)} is not in dom0's image store (send it with UploadFile first)`);
      }
      o[s.field] = path;
      continue;
    }
    if (s.sha256) throw invalidArgument(`${at}.sha256: a disk is the VM's own in the store, named by the VM, not by a digest`);
    const index = diskIndex(s.field);
    const disks = o['disks'];
    const entry = Array.isArray(disks) ? (disks[index] as unknown) : undefined;
    if (entry === undefined) throw invalidArgument(`${at}.field: ${source} has no disks[${index}]`);
    if ((await store.diskSeed(name, index)) === undefined) {
      throw invalidArgument(`${s.field}: vm "${name}" has no disk ${index} in dom0's image store (send it with UploadFile first)`);
    }
    const path = store.diskPath(name, index);
    (disks as unknown[])[index] = typeof entry === 'object' && entry !== null ? { ...entry, path } : path;
  }
  return stringify(o);
}

/** `nics` with nics[i].tftp naming the VM's copy of the directory `s` lists, built in the
 *  store once the list is checked and every file of it is there. */
async function storedTftp(store: ImageStore, vm: string, nics: unknown, s: Dom0V1.StoredFile__Output, at: string, source: string): Promise<unknown[]> {
  if (s.sha256) throw invalidArgument(`${at}.sha256: a tftp directory is named by its files (tftpFiles), not by one digest`);
  const index = nicIndex(s.field);
  const entry = Array.isArray(nics) ? (nics[index] as unknown) : undefined;
  if (entry === null || typeof entry !== 'object' || (entry as Record<string, unknown>)['tftp'] === undefined) {
    throw invalidArgument(`${at}.field: ${source} has no ${s.field}: to replace`);
  }
  try {
    validateTftpManifest(s.field, s.tftpFiles);
  } catch (e) {
    if (e instanceof ManifestError) throw invalidArgument(e.message);
    throw e;
  }
  for (const f of s.tftpFiles) {
    if (!(await store.hasContent(f.sha256))) {
      throw invalidArgument(`${s.field}: ${f.path}: ${shortDigest(f.sha256)} is not in dom0's image store (send it with UploadFile first)`);
    }
  }
  const tftp = await store.materializeTftp(vm, index, s.tftpFiles);
  const out = [...(nics as unknown[])];
  out[index] = { ...(entry as Record<string, unknown>), tftp };
  return out;
}

/**
 * After a create succeeded: the VM's tftp directories in the store that its config no
 * longer names are removed (a changed directory is built anew, not edited in place). Not
 * before, since a create that fails leaves the previous VM of that name, and its
 * directory, as they were. Like stored disks, the current ones outlive a destroy.
 */
export async function pruneStoredTftp(store: ImageStore, configYaml: string, baseDir: string, source: string): Promise<string[]> {
  const cfg = parseVmConfig(configYaml, baseDir || process.cwd(), source || 'vm config');
  const keep = new Set((cfg.devices ?? []).flatMap((d) => (d.params['tftp'] !== undefined ? [d.params['tftp']] : [])));
  return store.pruneTftp(cfg.name, keep);
}
