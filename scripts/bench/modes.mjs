// The guest kernel's microbenchmarks in every mode this build has and on QEMU 7.2 (issue
// 12): `splitvisor bench modes` itself (services/dom0/src/cli/bench), so the npm bench and
// the CLI print the same table. Flags go through: --runs=N (default 3), --iters=N,
// --only=a,b, --timeout=s, --json=file, --svg=file.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/lab';

const r = spawnSync(process.execPath, [join(REPO_ROOT, 'services/dom0/bin/splitvisor.js'), 'bench', 'modes', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
