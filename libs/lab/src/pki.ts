// The lab's certificate authority and one certificate per identity, made with Debian's
// openssl (no download, no library): EC P-256 keys, the CN is the identity, the SANs let
// a client reach the holder as localhost, 127.0.0.1 or its service name (compose), and
// each certificate serves for both ends of mutual TLS.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Everyone who gets a certificate in a lab: the services, and people (the CLI). */
export const LAB_IDENTITIES = ['dom0', 'cpu', 'mmu', 'io-backend', 'cli'] as const;

const DAYS = '30';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error('openssl not found: install it (Debian: apt-get install openssl) to run a lab with mutual TLS');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** Writes ca.crt/ca.key and <identity>.crt/.key for each identity into `dir`. */
export function makeLabPki(dir: string, identities: readonly string[] = LAB_IDENTITIES, caName = 'Splitvisor lab CA'): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', DAYS, '-subj', `/CN=${caName}`], dir);
  for (const id of identities) {
    const ext = join(dir, `${id}.ext`);
    writeFileSync(
      ext,
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        `subjectAltName=DNS:localhost,DNS:${id},IP:127.0.0.1`,
        '',
      ].join('\n'),
    );
    openssl(['req', ...ec, '-keyout', `${id}.key`, '-out', `${id}.csr`, '-subj', `/CN=${id}`], dir);
    openssl(
      ['x509', '-req', '-in', `${id}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${id}.crt`, '-days', DAYS, '-extfile', ext],
      dir,
    );
    chmodSync(join(dir, `${id}.key`), 0o600);
  }
  chmodSync(join(dir, 'ca.key'), 0o600);
}
