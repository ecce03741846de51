// The architecture as a lint rule (nx enforce-module-boundaries, eslint.config.mjs): these
// imports would compile, and the lint must refuse each of them.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';

const eslint = new ESLint({ cwd: REPO_ROOT });

// The rule reads nx's cached project graph and silently skips itself without one: make
// sure it exists and is current, as it is inside `nx run`.
beforeAll(() => {
  execFileSync('npx', ['nx', 'show', 'projects'], { cwd: REPO_ROOT, env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' }, stdio: 'ignore' });
}, 120_000);

async function boundaryErrors(file: string, source: string): Promise<string[]> {
  const [res] = await eslint.lintText(source, { filePath: join(REPO_ROOT, file) });
  return res!.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

describe('module boundaries', () => {
  it('a service may not import another service', async () => {
    expect(await boundaryErrors('services/cpu/src/probe.ts', "import { mmuService } from '@splitvisor/mmu';\nexport const x = mmuService;\n")).toEqual([
      'A project tagged with "type:service" can only depend on libs tagged with "type:lib"',
    ]);
  });

  it('a lib may not import a service', async () => {
    expect(await boundaryErrors('libs/devices/src/probe.ts', "import { cpuService } from '@splitvisor/cpu';\nexport const x = cpuService;\n")).toEqual([
      'A project tagged with "type:lib" can only depend on libs tagged with "type:lib"',
    ]);
  });

  it("a service may not import another scope's lib (io-backend is not the vCPU)", async () => {
    expect(await boundaryErrors('services/io-backend/src/probe.ts', "import { Hart } from '@splitvisor/riscv';\nexport const x = Hart;\n")).toEqual([
      'A project tagged with "scope:io" can only depend on libs tagged with "scope:io", "scope:shared"',
    ]);
  });

  it('a service may import shared libs and its own scope', async () => {
    expect(
      await boundaryErrors(
        'services/cpu/src/probe.ts',
        "import { Hart } from '@splitvisor/riscv';\nimport { Bus } from '@splitvisor/bus';\nexport const x = [Hart, Bus];\n",
      ),
    ).toEqual([]);
  });
});
