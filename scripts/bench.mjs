#!/usr/bin/env node
// npm run bench [-- suite...]: measurements printed side by side with their reference, in
// one run. Speed targets live here, never in timed unit tests (the machines are shared).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const SUITES = {
  exits: { file: 'bench/exits.mjs', what: 'MMIO exit round trip (worker -> io-backend -> worker, a UART IIR read: never shadowed) beside a bare gRPC ping' },
  mmu: { file: 'bench/mmu.mjs', what: 'page fetches (runs 1/16/64), recalls beside bare NATS request/reply, first touch of 64 MiB' },
  cpu: { file: 'bench/cpu.mjs', what: 'the hart engine on a compute-bound C guest, beside QEMU' },
  boot: { file: 'bench/boot.mjs', what: "Debian's OpenSBI + U-Boot to the prompt, beside QEMU, and the exit table of that boot" },
  virtio: { file: 'bench/virtio.mjs', what: "Debian's U-Boot: load from a FAT disk and tftpboot, beside QEMU, with DMA/recall/exit counters per request" },
  linux: { file: 'bench/linux.mjs', what: "Debian's kernel (busybox initramfs) to the shell and poweroff, beside QEMU, with the boot's exit table" },
  modes: {
    file: 'bench/modes.mjs',
    what: "our kernel's microbenchmarks in every mode this build has, beside QEMU: guest ns/op, exits per op by reason, host µs/op",
  },
  dom0: { file: 'bench/dom0.mjs', what: 'CreateVm to the first instruction; how many idle 64 MiB VMs, at what memory and CPU each' },
  io: {
    file: 'bench/io.mjs',
    what: "issue 17's I/O targets beside QEMU: U-Boot prompt, md console throughput, tftpboot 8 MiB, load 16 MiB, idle CPU at the prompt, in WFI with a line per tick (ticker) and with one a second (sleeper)",
  },
};

// `--flag value` (`npm run bench -- io --runs 3`) goes on as `--flag=value`, the form the
// suites read: a word after a flag without '=' is its value unless it names a suite.
const argv = [];
for (const a of process.argv.slice(2)) {
  const prev = argv[argv.length - 1];
  if (!a.startsWith('-') && !(a in SUITES) && prev?.startsWith('--') && !prev.includes('=')) argv[argv.length - 1] = `${prev}=${a}`;
  else argv.push(a);
}
const flags = argv.filter((a) => a.startsWith('-'));
const asked = argv.filter((a) => !a.startsWith('-'));
const unknown = asked.filter((s) => !(s in SUITES));
if (unknown.length) {
  console.error(`bench: unknown suite ${unknown.join(', ')}; known: ${Object.keys(SUITES).join(', ')}`);
  process.exit(2);
}
const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
});
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const name of asked.length ? asked : Object.keys(SUITES)) {
  console.log(`\n== ${name}: ${SUITES[name].what}`);
  const r = spawnSync(process.execPath, [join(here, SUITES[name].file), ...flags], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
