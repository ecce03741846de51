// Posted writes end to end: guests/posted through the CLI on the four services as
// processes. The guest checks the order of its posted stores against its own reads (it
// powers off with fail 2 or 3 if a read overtook one), so exit 0 plus QEMU's exact bytes
// say coalesced MMIO and doorbells kept program order across cpu, io-backend and NATS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTestLab, REPO_ROOT, type TestLab } from '@splitvisor/testing';
import { POSTED_CONSOLE } from './guest-expectations.js';
import { configDir, labEnv, runCli } from './cli-runner.js';

let t: TestLab;
let env: Record<string, string>;
const { vmFile } = configDir('sv-posted-');

beforeAll(async () => {
  t = await startTestLab();
  env = labEnv(t);
});
afterAll(async () => {
  await t?.teardown();
});

describe('posted writes across the processes', () => {
  it('runs guests/posted: the bytes QEMU prints, in order, then pass', async () => {
    const f = vmFile('posted', `name: posted\nmemory: 4M\nimage: ${join(REPO_ROOT, 'guests/posted/posted.elf')}\n`);
    const r = await runCli(['run', f], { env });
    expect(r.stdout).toBe(POSTED_CONSOLE);
    expect(r.code).toBe(0);
  });
});
