// Debian's OpenSBI + U-Boot to the `=>` prompt, on Splitvisor and on QEMU, in one run.
// Both get the same images (scripts/fetch-firmware.sh) and the same 256 MiB; a key is sent
// when U-Boot offers to stop autoboot, as a person at the console would. Prints the time
// to the U-Boot banner and to the prompt for each, their ratio, and Splitvisor's exit
// table for that boot (count and total time per reason), as `perf kvm stat` would.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, REPO_ROOT } from '@splitvisor/lab';
import { protos, ConsoleInputCodec, ConsoleOutputCodec } from '@splitvisor/proto';
import { RpcClient } from '@splitvisor/rpc';
import { Bus, streams, subjects } from '@splitvisor/bus';
import { createLogger } from '@splitvisor/log';

const TIMEOUT_S = Number(process.env.BENCH_BOOT_TIMEOUT_S ?? 600);
const fetched = spawnSync('bash', [join(REPO_ROOT, 'scripts/fetch-firmware.sh')], { encoding: 'utf8' });
if (fetched.status !== 0) {
  console.error(`boot bench: cannot fetch Debian's firmware:\n${fetched.stderr}`);
  process.exit(1);
}
const [fwJump, uboot] = fetched.stdout.trim().split('\n').slice(-2);
for (const f of [fwJump, uboot]) if (!existsSync(f)) throw new Error(`missing ${f}`);

/** Feeds console text to `watch`, which marks times; resolves when the prompt shows. */
function milestones() {
  const t0 = performance.now();
  const seen = {};
  let text = '';
  return {
    seen,
    feed(chunk, sendKey) {
      text += chunk;
      const mark = (k, re) => {
        if (seen[k] === undefined && re.test(text)) seen[k] = (performance.now() - t0) / 1000;
      };
      mark('opensbi', /OpenSBI v/);
      mark('uboot', /U-Boot 20\d\d/);
      if (seen.key === undefined && /Hit any key to stop autoboot/.test(text)) {
        seen.key = (performance.now() - t0) / 1000;
        sendKey();
      }
      mark('prompt', /=> $/);
      return seen.prompt !== undefined;
    },
  };
}

async function qemu() {
  const m = milestones();
  const child = spawn('qemu-system-riscv64', ['-M', 'virt', '-m', '256M', '-nographic', '-bios', fwJump, '-kernel', uboot], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('QEMU did not reach the prompt')), TIMEOUT_S * 1000);
    child.stdout.on('data', (b) => {
      if (m.feed(b.toString('latin1'), () => child.stdin.write(' '))) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGKILL');
  return m.seen;
}

async function splitvisor() {
  const lab = await Lab.start({ logLevel: 'warn' });
  const p = protos();
  const dom0 = new RpcClient(p.dom0.Dom0, lab.addresses.dom0, { deadlineMs: 60_000 });
  const cpu = new RpcClient(p.cpu.Cpu, lab.addresses.cpu, { deadlineMs: 30_000 });
  const bus = await Bus.connect({ url: lab.natsUrl, name: 'bench', log: createLogger({ service: 'bench', level: 'silent', pretty: false }) });
  try {
    const configYaml = readFileSync(join(REPO_ROOT, 'examples/uboot.yaml'), 'utf8');
    await dom0.call('CreateVm', { configYaml, baseDir: join(REPO_ROOT, 'examples'), source: 'examples/uboot.yaml' });
    const m = milestones();
    const done = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Splitvisor did not reach the prompt in ${TIMEOUT_S} s; console so far in the CONSOLE stream`)), TIMEOUT_S * 1000);
      void bus.replay(streams.console, subjects.consoleOut('uboot'), ConsoleOutputCodec, (msg) => {
        const key = () => bus.publish(subjects.consoleIn('uboot'), ConsoleInputCodec, { vmId: 'uboot', data: Buffer.from(' ') });
        if (m.feed(Buffer.from(msg.data).toString('latin1'), key)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await dom0.call('StartVm', { name: 'uboot' });
    await done;
    const stats = await cpu.call('GetVmStats', { vmId: 'uboot' });
    await dom0.call('DestroyVm', { name: 'uboot' });
    return { seen: m.seen, stats };
  } finally {
    dom0.close();
    cpu.close();
    await bus.drain();
    await lab.stop();
  }
}

const q = await qemu();
const s = await splitvisor();
const f = (v) => (v === undefined ? '-' : `${v.toFixed(2)} s`);
console.log(`${'milestone'.padEnd(24)} ${'Splitvisor'.padStart(12)} ${'QEMU'.padStart(10)} ${'ratio'.padStart(8)}`);
for (const [k, label] of [['opensbi', 'OpenSBI banner'], ['uboot', 'U-Boot banner'], ['prompt', '=> prompt']]) {
  const ratio = s.seen[k] !== undefined && q[k] ? `x${(s.seen[k] / q[k]).toFixed(1)}` : '-';
  console.log(`${label.padEnd(24)} ${f(s.seen[k]).padStart(12)} ${f(q[k]).padStart(10)} ${ratio.padStart(8)}`);
}
console.log(`\nSplitvisor exits for that boot (${s.stats.instret} instructions, ${s.stats.runSeconds.toFixed(2)} s of vCPU time):`);
// mmio-coalesced and doorbell are stores the vCPU posted instead of exiting: no time.
const POSTED = new Set(['mmio-coalesced', 'doorbell']);
for (const e of s.stats.exits) {
  if (e.count === 0) continue;
  const each = POSTED.has(e.reason) ? 'posted, no exit' : `${((e.totalMs * 1000) / e.count).toFixed(0).padStart(6)} µs each`;
  console.log(`  ${e.reason.padEnd(14)} ${String(e.count).padStart(9)}  ${e.totalMs.toFixed(0).padStart(8)} ms  ${each}`);
}
const l = s.stats.mmioLatency;
if (l?.samples) console.log(`  MMIO exit latency (last ${l.samples}): p50 ${l.p50Us.toFixed(0)} µs, p99 ${l.p99Us.toFixed(0)} µs, mean ${l.meanUs.toFixed(0)} µs`);
console.log('\nby device:');
console.log(`  ${'device'.padEnd(26)} ${'read exits'.padStart(10)} ${'write exits'.padStart(11)} ${'exit time'.padStart(10)} ${'posted'.padStart(8)}`);
for (const d of s.stats.devices ?? []) {
  console.log(`  ${d.device.padEnd(26)} ${String(d.reads).padStart(10)} ${String(d.writes).padStart(11)} ${`${d.totalMs.toFixed(0)} ms`.padStart(10)} ${String(d.posted).padStart(8)}`);
}
