#!/usr/bin/env node
// The `splitvisor` command. A committed launcher, so npm can link it before the first
// build; the CLI itself is built from src/cli.ts.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('splitvisor: not built yet: run `npm run build` (or `npm run lab`) first\n');
  process.exit(1);
}
await import(cli.href);
