// A lab's certificates in use: a TLS client reaching a service by IP address, as every
// CLI command and service of a local lab does, says nothing on stderr (Node warns,
// DEP0123, when the TLS ServerName is an IP) and still checks the server's certificate
// against that IP.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RpcServer, checkHealth, loadTls, serverCredentials } from '@splitvisor/rpc';
import { createLogger } from '@splitvisor/log';
import { PassThrough } from 'node:stream';
import { makeLabPki } from './pki.js';

const dir = mkdtempSync(join(tmpdir(), 'sv-pki-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger({ service: 'test', level: 'silent', destination: new PassThrough() });

async function tlsServer(listen: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new RpcServer({ name: 'splitvisor.io.v1.IoBackend', listen, log, credentials: serverCredentials(loadTls(dir, 'io-backend')) });
  const port = await server.start();
  return { port, stop: () => server.stop(100) };
}

describe('lab PKI over gRPC', () => {
  makeLabPki(dir, ['io-backend', 'cli']);

  it('reaches a service at 127.0.0.1 with nothing on stderr', async () => {
    const s = await tlsServer('127.0.0.1:0');
    try {
      // Its own process: Node warns once per process, so an earlier connection here would hide it.
      const script = `
        import { checkHealth, loadTls } from '@splitvisor/rpc';
        process.stdout.write(await checkHealth('127.0.0.1:${s.port}', '', 5000, loadTls(${JSON.stringify(dir)}, 'cli')));`;
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

  it('refuses a server whose certificate does not name the IP dialled', async () => {
    // The lab's certificates name 127.0.0.1; 127.0.0.2 is the same host under another IP.
    const s = await tlsServer('0.0.0.0:0');
    try {
      expect(await checkHealth(`127.0.0.1:${s.port}`, '', 5000, loadTls(dir, 'cli'))).toBe('SERVING');
      await expect(checkHealth(`127.0.0.2:${s.port}`, '', 2000, loadTls(dir, 'cli'))).rejects.toThrow(/127\.0\.0\.2|altnames|certificate/i);
    } finally {
      await s.stop();
    }
  });
});
