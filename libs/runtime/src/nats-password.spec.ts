// A service's NATS password comes from a file the launcher wrote into its own directory,
// never from its command line or environment (both visible in /proc).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { natsUrlWithPassword } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'sv-natspw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('natsUrlWithPassword', () => {
  it("puts the file's password in for the user the URL names", () => {
    const f = join(dir, 'nats.password');
    writeFileSync(f, 'p@ss/word\n', { mode: 0o600 });
    expect(natsUrlWithPassword('nats://cpu@127.0.0.1:4222', f)).toBe('nats://cpu:p%40ss%2Fword@127.0.0.1:4222');
    // A cluster's list: the first URL names the user, and gets the password.
    expect(natsUrlWithPassword('nats://cpu@127.0.0.1:4222,nats://127.0.0.1:4223', f)).toBe('nats://cpu:p%40ss%2Fword@127.0.0.1:4222,nats://127.0.0.1:4223');
  });

  it('names the file or the URL when one is wrong', () => {
    const f = join(dir, 'pw');
    writeFileSync(f, 'x');
    expect(() => natsUrlWithPassword('nats://127.0.0.1:4222', f)).toThrow('the NATS URL nats://127.0.0.1:4222 names no user');
    expect(() => natsUrlWithPassword('nats://cpu:old@127.0.0.1:4222', f)).toThrow('the NATS URL nats://cpu:***@127.0.0.1:4222 names no user');
    expect(() => natsUrlWithPassword('nats://cpu@127.0.0.1:4222', join(dir, 'absent'))).toThrow(`NATS password file ${join(dir, 'absent')}: ENOENT`);
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => natsUrlWithPassword('nats://cpu@127.0.0.1:4222', join(dir, 'empty'))).toThrow(`NATS password file ${join(dir, 'empty')} is empty`);
  });
});
