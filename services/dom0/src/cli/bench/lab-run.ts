// The kernel's suite in one mode of the lab: a VM (fw_jump + the kernel + a fresh disk)
// created and started through dom0, its console driven with `sync`, the cpu's exit table
// (by reason, and MMIO by device) read through dom0's GetStats around each measured part.
import { PassThrough, Writable } from 'node:stream';
import type { Dom0V1 } from '@splitvisor/proto';
import type { RpcClient } from '@splitvisor/rpc';
import type { VmMode } from '@splitvisor/platform';
import { attachConsole } from '../console.js';
import { KERNEL_EXIT_CODES } from './kernel-output.js';
import { BenchRunError, SyncDriver } from './sync-driver.js';
import type { BenchSample, ColumnRun } from './results.js';

export interface GuestSetup {
  kernel: string;
  firmware: string;
  /** A 4 MiB raw disk for this run (the kernel formats it on first use). */
  disk: string;
  bootargs: string;
  memoryMiB: number;
  timeoutS: number;
}

type Counters = { instret: number; exits: Record<string, number>; mmio: Record<string, { reads: number; writes: number }> };

function countersOf(s: Dom0V1.VmStats__Output): Counters {
  if (!s.cpu) throw new BenchRunError(`no exit table for ${s.name}: ${s.notes.join('; ') || 'its vCPU is not running'}`);
  return {
    // Exact while the kernel waits for the sync byte: its WFI ends the vCPU's batch, and
    // the cpu writes instret at every batch end.
    instret: s.cpu.instret,
    exits: Object.fromEntries(s.cpu.exits.map((e) => [e.reason, e.count])),
    mmio: Object.fromEntries(s.cpu.devices.map((d) => [d.device, { reads: d.reads, writes: d.writes }])),
  };
}

/** Counters over the measured part: after minus before, per reason and per device. */
export function counterDiff(before: Counters, after: Counters): Pick<BenchSample, 'exits' | 'mmio' | 'instructions'> {
  const exits = Object.fromEntries(Object.entries(after.exits).map(([k, v]) => [k, v - (before.exits[k] ?? 0)]));
  const mmio = Object.fromEntries(
    Object.entries(after.mmio)
      .map(([d, v]) => [d, { reads: v.reads - (before.mmio[d]?.reads ?? 0), writes: v.writes - (before.mmio[d]?.writes ?? 0) }] as const)
      .filter(([, v]) => v.reads + v.writes > 0),
  );
  return { instructions: after.instret - before.instret, exits, mmio };
}

export async function runInLab(dom0: RpcClient<Dom0V1.Dom0Client>, mode: VmMode, run: number, g: GuestSetup, load: () => string): Promise<ColumnRun> {
  const name = `bench-${mode}-${run}`;
  // JSON is YAML: the config as dom0 reads any other.
  const configYaml = JSON.stringify({
    name,
    memory: `${g.memoryMiB}M`,
    mode,
    // hw, trap and pv have no firmware in the guest: the cpu's monitor is the kernel's SBI.
    ...(mode === 'emulate' && { firmware: g.firmware }),
    kernel: g.kernel,
    bootargs: g.bootargs,
    disks: [{ path: g.disk }],
  });
  await dom0.call('CreateVm', { configYaml, baseDir: '/', source: `bench modes (${mode})` }, { deadlineMs: 120_000 });
  const input = new PassThrough();
  let failWith: (e: BenchRunError) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (failWith = reject));
  failed.catch(() => undefined);
  const driver = new SyncDriver<Counters>(
    {
      column: mode,
      send: (b) => input.write(b),
      snapshot: async () => countersOf(await dom0.call('GetStats', { name })),
      diff: counterDiff,
    },
    (e) => failWith(e),
  );
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      driver.reader.feed(chunk.toString('latin1'));
      cb();
    },
  });
  const session = attachConsole(dom0, name, { out, stdin: input, reconnectMs: 0 });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BenchRunError(`${mode}: no end within --timeout=${g.timeoutS} s, ${driver.where()}; the kernel's last lines:\n${driver.reader.tail()}`)),
      g.timeoutS * 1000,
    );
  });
  try {
    await dom0.call('StartVm', { name });
    const end = await Promise.race([session.done, failed, timeout]);
    await driver.settled();
    if (driver.failed) throw driver.failed;
    if (end === 'detached') throw new BenchRunError(`${mode}: the console of ${name} closed before the VM ended`);
    if (end.state !== 'stopped' || end.exitCode !== 0 || !driver.finished) {
      const code = end.exitCode ? ` with code ${end.exitCode}${KERNEL_EXIT_CODES[end.exitCode] ? ` (${KERNEL_EXIT_CODES[end.exitCode]})` : ''}` : '';
      throw new BenchRunError(
        `${mode}: the VM ended ${end.state}${code}${end.reason ? `: ${end.reason}` : ''}, ${driver.where()}; the kernel's last lines:\n${driver.reader.tail()}`,
      );
    }
    return { column: mode, run, banner: driver.banner, load: load(), benches: driver.samples };
  } finally {
    clearTimeout(timer);
    session.close();
    input.end();
    await dom0.call('DestroyVm', { name }).catch(() => undefined);
  }
}
