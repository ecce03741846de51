// The host files a VM config names, as both ends of an upload see them: the CLI lists them
// to send them, dom0 checks that a field a client says it uploaded is one of them.
//
// Two kinds, because two kinds of reader open them:
// - content files (image, firmware, kernel, initrd): dom0 reads them into guest RAM and
//   never writes them, so one stored copy per sha256 serves every VM that names it;
// - disks (disks[i].path): io-backend opens them and the guest writes them, so a stored
//   disk is the VM's own, under its name (image-store.ts).
// A NIC's tftp directory (nics[i].tftp) is a third kind: io-backend serves its files and
// never writes them, so each goes into the store by sha256 like a content file, and dom0
// builds the VM's copy of the directory from the manifest (tftp-manifest.ts).
import type { VmConfig } from './vm-config.js';

export type FileKind = 'content' | 'disk' | 'tftp';

export interface ConfigFile {
  /** Where the config names it: "image", "firmware", "kernel", "initrd", "disks[0].path",
   *  "nics[0].tftp". */
  field: string;
  kind: FileKind;
  /** The absolute path, as the config resolved it on the host that parsed it (a directory
   *  for a tftp field). */
  path: string;
  /** For messages: what the file is to the VM ("kernel", "virtio-blk0"). */
  label: string;
}

const CONTENT_FIELDS = ['image', 'firmware', 'kernel', 'initrd'] as const;
const DISK_FIELD = /^disks\[(\d)\]\.path$/;
const TFTP_FIELD = /^nics\[(\d)\]\.tftp$/;

/** The files `cfg` names, content files first, then disks and tftp directories in the
 *  order of its devices. */
export function filesOf(cfg: VmConfig): ConfigFile[] {
  const out: ConfigFile[] = [];
  for (const field of CONTENT_FIELDS) {
    const path = cfg[field];
    if (path !== undefined) out.push({ field, kind: 'content', path, label: field });
  }
  for (const d of cfg.devices ?? []) {
    const path = d.params['path'];
    if (d.kind !== 'virtio-blk' || path === undefined) continue;
    // device-config.ts names disks[i] virtio-blk<i>.
    out.push({ field: `disks[${d.id.slice('virtio-blk'.length)}].path`, kind: 'disk', path, label: d.id });
  }
  for (const d of cfg.devices ?? []) {
    const path = d.params['tftp'];
    if (d.kind !== 'virtio-net' || path === undefined) continue;
    // nics[i] is virtio-net<i>.
    out.push({ field: `nics[${d.id.slice('virtio-net'.length)}].tftp`, kind: 'tftp', path, label: `${d.id} tftp` });
  }
  return out;
}

/** The kind of file a field names, or undefined when no config field names a file so. */
export function kindOfField(field: string): FileKind | undefined {
  if ((CONTENT_FIELDS as readonly string[]).includes(field)) return 'content';
  if (DISK_FIELD.test(field)) return 'disk';
  if (TFTP_FIELD.test(field)) return 'tftp';
  return undefined;
}

/** nics[i].tftp -> i (the field is checked by kindOfField first). */
export function nicIndex(field: string): number {
  const m = TFTP_FIELD.exec(field);
  if (!m) throw new Error(`${field} is not a tftp field`);
  return Number(m[1]);
}

/** disks[i].path -> i (the field is checked by kindOfField first). */
export function diskIndex(field: string): number {
  const m = DISK_FIELD.exec(field);
  if (!m) throw new Error(`${field} is not a disk field`);
  return Number(m[1]);
}

const SHA256 = /^[0-9a-f]{64}$/;

/** A sha256 as the store names files: 64 lowercase hex digits, nothing else (no path). */
export function isSha256(s: string): boolean {
  return SHA256.test(s);
}

/** "sha256:1a2b3c4d5e6f…" for messages. */
export function shortDigest(sha256: string): string {
  return `sha256:${sha256.slice(0, 12)}…`;
}
