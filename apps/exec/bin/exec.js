#!/usr/bin/env node
// `splitvisor exec`: a committed launcher for the built app, so the dom0 CLI can start it
// as a child process, found through this package, without importing it. It runs the
// build's single-file bundle of src/main.ts and the libraries it composes (esbuild, in the
// build target): Node then reads one file instead of resolving and loading ~75 modules,
// about 80 ms less at every start here (bench cpu times whole processes).
import { existsSync } from 'node:fs';

const main = new URL('../dist/exec.bundle.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('splitvisor exec: not built yet: run `npm run build` first\n');
  process.exit(1);
}
const { runExec } = await import(main.href);
runExec(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`splitvisor exec: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
