#!/usr/bin/env node
// The `splitvisor` command. A committed launcher, so npm can link it before the first
// build; the CLI itself is built from src/cli/main.ts.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('splitvisor: not built yet: run `npm run build` (or `npm run lab`) first\n');
  process.exit(1);
}
await import(cli.href);
