// A lab's certificates in use: each identity's directory holds its own material only, the
// CA key is nowhere on disk, a client checks which service answered (and says nothing on
// stderr doing so), and loadTls refuses material that is not the identity's.
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RpcServer, checkHealth, loadTls, serverCredentials } from '@splitvisor/rpc';
import { createLogger } from '@splitvisor/log';
import { PassThrough } from 'node:stream';
import { makeLabPki } from './pki.js';

const root = mkdtempSync(join(tmpdir(), 'sv-pki-'));
const other = mkdtempSync(join(tmpdir(), 'sv-pki-other-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(other, { recursive: true, force: true });
});
const log = createLogger({ service: 'test', level: 'silent', destination: new PassThrough() });

const pki = makeLabPki(root, { identities: ['io-backend', 'mmu', 'cli'], labId: 'spec1' });
const otherLab = makeLabPki(other, { identities: ['mmu'], labId: 'spec1', caName: 'Another lab CA' });

async function tlsServer(identity: string, listen = '127.0.0.1:0'): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new RpcServer({ name: 'splitvisor.io.v1.IoBackend', listen, log, credentials: serverCredentials(loadTls(pki.dirs[identity]!, identity)) });
  const port = await server.start();
  return { port, stop: () => server.stop(100) };
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('a lab PKI', () => {
  it('gives each identity a private directory with ca.crt and its own certificate and key, nothing else', () => {
    expect(readdirSync(root).sort()).toEqual(['cli', 'io-backend', 'mmu']);
    for (const id of ['io-backend', 'mmu', 'cli']) {
      const dir = pki.dirs[id]!;
      expect(dir).toBe(join(root, id));
      expect(statSync(dir).mode & 0o777, dir).toBe(0o700);
      expect(readdirSync(dir).sort()).toEqual(['ca.crt', `${id}.crt`, `${id}.key`]);
      expect(statSync(join(dir, `${id}.key`)).mode & 0o777).toBe(0o600);
      const cert = new X509Certificate(readFileSync(join(dir, `${id}.crt`)));
      expect(cert.subject).toBe(`CN=${id}`);
      // One name: the identity in its lab. No localhost, no IP: any of those would let one
      // service's certificate stand in for another's.
      expect(cert.subjectAltName).toBe(`DNS:${id}.spec1.splitvisor`);
    }
  });

  it("keeps the CA key off the disk: no private key under the lab is the CA certificate's", () => {
    const caPublic = new X509Certificate(readFileSync(join(root, 'mmu', 'ca.crt'))).publicKey.export({ type: 'spki', format: 'pem' });
    const keys = filesUnder(root).filter((f) => readFileSync(f, 'utf8').includes('PRIVATE KEY'));
    expect(keys.sort()).toEqual([join(root, 'cli', 'cli.key'), join(root, 'io-backend', 'io-backend.key'), join(root, 'mmu', 'mmu.key')]);
    for (const k of keys) expect(createPublicKey(createPrivateKey(readFileSync(k))).export({ type: 'spki', format: 'pem' }), k).not.toBe(caPublic);
  });
});

describe('loadTls', () => {
  it('loads an identity with its lab id', () => {
    expect(loadTls(pki.dirs['mmu']!, 'mmu')).toMatchObject({ identity: 'mmu', labId: 'spec1' });
  });

  it("refuses a certificate of another identity, a key that is not the certificate's, a certificate from another CA", () => {
    const mixed = mkdtempSync(join(root, 'mixed-'));
    // io-backend's certificate and key filed under mmu's names.
    copyFileSync(join(pki.dirs['mmu']!, 'ca.crt'), join(mixed, 'ca.crt'));
    copyFileSync(join(pki.dirs['io-backend']!, 'io-backend.crt'), join(mixed, 'mmu.crt'));
    copyFileSync(join(pki.dirs['io-backend']!, 'io-backend.key'), join(mixed, 'mmu.key'));
    expect(() => loadTls(mixed, 'mmu')).toThrow(`TLS: ${join(mixed, 'mmu.crt')} is io-backend's certificate, not mmu's`);
    // mmu's certificate with io-backend's key.
    copyFileSync(join(pki.dirs['mmu']!, 'mmu.crt'), join(mixed, 'mmu.crt'));
    expect(() => loadTls(mixed, 'mmu')).toThrow(`TLS: ${join(mixed, 'mmu.key')} is not the key of ${join(mixed, 'mmu.crt')}`);
    // Another lab's mmu (same names, another CA) beside this lab's ca.crt.
    copyFileSync(join(otherLab.dirs['mmu']!, 'mmu.crt'), join(mixed, 'mmu.crt'));
    copyFileSync(join(otherLab.dirs['mmu']!, 'mmu.key'), join(mixed, 'mmu.key'));
    expect(() => loadTls(mixed, 'mmu')).toThrow(/mmu\.crt \(issuer CN=Another lab CA.*\) was not issued by the CA in .*ca\.crt \(CN=Splitvisor lab CA/);
    expect(() => loadTls(join(root, 'absent'), 'mmu')).toThrow(`TLS: cannot read ${join(root, 'absent', 'ca.crt')}: ENOENT`);
  });
});

describe('lab PKI over gRPC', () => {
  it('reaches a service at 127.0.0.1 with nothing on stderr', async () => {
    const s = await tlsServer('io-backend');
    try {
      // Its own process: Node warns once per process (DEP0123 for a TLS ServerName that is
      // an IP), so an earlier connection here would hide it.
      const script = `
        import { checkHealth, loadTls } from '@splitvisor/rpc';
        process.stdout.write(await checkHealth('127.0.0.1:${s.port}', '', 5000, loadTls(${JSON.stringify(pki.dirs['cli'])}, 'cli'), 'io-backend'));`;
      const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: import.meta.dirname }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
        );
      });
      expect(out).toEqual({ stdout: 'SERVING', stderr: '' });
    } finally {
      await s.stop();
    }
  });

  it("a client refuses a server presenting another service's certificate, naming both", async () => {
    // A fake "mmu" holding io-backend's certificate (a compromised io-backend listening
    // where mmu should be).
    const fake = await tlsServer('io-backend');
    try {
      const cli = loadTls(pki.dirs['cli']!, 'cli');
      expect(await checkHealth(`127.0.0.1:${fake.port}`, '', 5000, cli, 'io-backend')).toBe('SERVING');
      await expect(checkHealth(`127.0.0.1:${fake.port}`, '', 3000, cli, 'mmu')).rejects.toThrow(
        `127.0.0.1:${fake.port} is not mmu: it presented io-backend's certificate (DNS:io-backend.spec1.splitvisor), and mmu of this lab is mmu.spec1.splitvisor`,
      );
      // A TLS client that does not say whom it expects is refused before it dials.
      await expect(checkHealth(`127.0.0.1:${fake.port}`, '', 3000, cli)).rejects.toThrow(/say which service it must be/);
    } finally {
      await fake.stop();
    }
  });
});
