// CreateVm with uploaded files: the config as the user wrote it, with each field the client
// uploaded (CreateVmRequest.stored) pointing at the stored copy instead, so the config dom0
// keeps in KV, and every reboot's reload, name the file in the store.
import { parse as parseYaml, stringify } from 'yaml';
import { invalidArgument } from '@splitvisor/rpc';
import type { Dom0V1 } from '@splitvisor/proto';
import { diskIndex, kindOfField, shortDigest } from './config-files.js';
import { ConfigError, parseVmConfig } from './vm-config.js';
import type { ImageStore } from './image-store.js';

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
