// Generates TypeScript types from proto/ with proto-loader-gen-types, then makes the
// relative imports ESM-correct (NodeNext wants an explicit `.js`), since the generator
// writes extension-less paths.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const genTypes = join(require.resolve('@grpc/proto-loader/package.json'), '..', 'build/bin/proto-loader-gen-types.js');

export const PROTO_FILES = [
  'grpc/health/v1/health.proto',
  'splitvisor/cpu/v1/cpu.proto',
  'splitvisor/mmu/v1/mmu.proto',
  'splitvisor/io/v1/io.proto',
  'splitvisor/dom0/v1/dom0.proto',
  'splitvisor/events/v1/events.proto',
];
const out = 'src/generated';
rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [genTypes, '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--grpcLib=@grpc/grpc-js', '--includeComments',
    '-I', '../../proto', '-O', out, ...PROTO_FILES],
  { stdio: 'inherit' },
);
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) {
      const src = readFileSync(p, 'utf8');
      writeFileSync(p, src.replace(/from '(\.{1,2}\/[^']+)'/g, (_m, spec) => `from '${spec}.js'`));
    }
  }
}
walk(out);

// One barrel per proto package (e.g. src/generated/barrels/io.ts re-exports every message
// type of splitvisor.io.v1), so index.ts can expose each package as a namespace:
// message names repeat across packages (CreateVmRequest is in mmu and dom0).
const barrels = { health: 'grpc/health/v1', cpu: 'splitvisor/cpu/v1', mmu: 'splitvisor/mmu/v1',
  io: 'splitvisor/io/v1', dom0: 'splitvisor/dom0/v1', events: 'splitvisor/events/v1' };
const barrelDir = join(out, 'barrels');
execFileSync('mkdir', ['-p', barrelDir]);
for (const [name, dir] of Object.entries(barrels)) {
  const files = readdirSync(join(out, dir)).filter((f) => f.endsWith('.ts')).sort();
  const lines = files.map((f) => `export type * from '../${dir}/${f.replace(/\.ts$/, '.js')}';`);
  writeFileSync(join(barrelDir, `${name}.ts`), lines.join('\n') + '\n');
}
