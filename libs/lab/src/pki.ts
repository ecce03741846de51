// The lab's certificate authority and one certificate per identity, made with Debian's
// openssl (no download, no library) over keys made by node:crypto: EC P-256, the CN is the
// identity, the one SAN `<identity>.<lab-id>.splitvisor` names the holder and its lab (no
// `localhost`, no IP: a client checks which service answered, not which address), and each
// certificate serves for both ends of mutual TLS.
//
// Who holds what (issue 11 item 7): the CA key lives only in the issuer's memory while it
// signs, and reaches openssl on a pipe; it is never written to disk. Each identity gets its
// own 0700 directory holding ca.crt and its own certificate and key, nothing else.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDnsName } from '@splitvisor/rpc';

/** Everyone who gets a certificate in a lab: the services, and people (the CLI). */
export const LAB_IDENTITIES = ['dom0', 'cpu', 'mmu', 'io-backend', 'cli'] as const;

const DAYS = '30';

/** Runs openssl; `secret` (the CA key) reaches it as /dev/stdin. Node gives a child a socket
 *  for stdin, which openssl cannot fopen, so `cat` passes it on through a real pipe. */
function openssl(args: string[], cwd: string, secret?: string): void {
  try {
    if (secret === undefined) execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    else execFileSync('sh', ['-c', 'cat | exec openssl "$@"', 'sh', ...args], { cwd, input: secret, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error('openssl not found: install it (Debian: apt-get install openssl) to run a lab with mutual TLS');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

function ecKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export interface LabPki {
  /** The lab's name in every certificate: `<identity>.<labId>.splitvisor`. */
  labId: string;
  /** identity -> its own directory (ca.crt, <identity>.crt, <identity>.key). */
  dirs: Record<string, string>;
}

export interface LabPkiOptions {
  identities?: readonly string[];
  /** Default: 8 random hex digits. */
  labId?: string;
  caName?: string;
}

/** A fresh lab id: lower-case hex, a valid DNS label. */
export function newLabId(): string {
  return randomBytes(4).toString('hex');
}

/**
 * Issues a lab CA and one certificate per identity under `root` (which must exist and be
 * private to this user): `root/<identity>/` is made 0700 and holds ca.crt,
 * `<identity>.crt` and `<identity>.key` (0600). The CA key is gone when this returns.
 */
export function makeLabPki(root: string, opts: LabPkiOptions = {}): LabPki {
  const labId = opts.labId ?? newLabId();
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(labId)) throw new Error(`lab id "${labId}": must be a DNS label (a-z, 0-9, -)`);
  const identities = opts.identities ?? LAB_IDENTITIES;
  // Public scratch only (CA certificate, requests, extensions); removed before returning.
  const work = mkdtempSync(join(root, '.issuing-'));
  try {
    let caKey: string | undefined = ecKeyPem();
    openssl(
      ['req', '-x509', '-key', '/dev/stdin', '-out', 'ca.crt', '-days', DAYS, '-subj', `/CN=${opts.caName ?? 'Splitvisor lab CA'}/OU=lab ${labId}`],
      work,
      caKey,
    );
    const caCert = readFileSync(join(work, 'ca.crt'));
    const dirs: Record<string, string> = {};
    for (const id of identities) {
      const dir = join(root, id);
      mkdirSync(dir, { mode: 0o700 });
      chmodSync(dir, 0o700);
      const keyFile = join(dir, `${id}.key`);
      writeFileSync(keyFile, ecKeyPem(), { mode: 0o600 });
      writeFileSync(
        join(work, `${id}.ext`),
        [
          'basicConstraints=CA:FALSE',
          'keyUsage=digitalSignature,keyEncipherment',
          'extendedKeyUsage=serverAuth,clientAuth',
          `subjectAltName=DNS:${labDnsName(id, labId)}`,
          '',
        ].join('\n'),
      );
      openssl(['req', '-new', '-key', keyFile, '-out', `${id}.csr`, '-subj', `/CN=${id}`], work);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${id}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          '/dev/stdin',
          '-set_serial',
          `0x${randomBytes(12).toString('hex')}`,
          '-out',
          join(dir, `${id}.crt`),
          '-days',
          DAYS,
          '-extfile',
          `${id}.ext`,
        ],
        work,
        caKey,
      );
      writeFileSync(join(dir, 'ca.crt'), caCert, { mode: 0o644 });
      dirs[id] = dir;
    }
    caKey = undefined;
    return { labId, dirs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
