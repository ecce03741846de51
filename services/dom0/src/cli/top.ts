// `splitvisor top`: per VM, every second, what xentop and kvm_stat show: exits per second
// by reason (the cpu's exit table, differenced), instructions, resident memory (mmu),
// device interrupts and I/O operations (io-backend). --once prints one refresh (two
// samples an interval apart), --json prints each refresh as one JSON line.
import type { Dom0V1 } from '@splitvisor/proto';
import { EXIT_REASONS, exitReasonRow, isRealExit } from '@splitvisor/platform';
import type { RpcClient } from '@splitvisor/rpc';
import type { ServiceStatus } from '@splitvisor/lab';
import { fmtBytes, restartsLine, table } from './views.js';

export interface TopRow {
  name: string;
  state: string;
  node: string;
  /** Million instructions per second over the interval. */
  mips: number;
  exitsPerSec: Record<string, number>;
  exitsTotalPerSec: number;
  residentBytes: number;
  irqsPerSec: number;
  ioOpsPerSec: number;
  consoleBytesPerSec: number;
  /** Totals since the VM's boot, for scripts that want counts rather than rates. */
  totals: { instret: number; exits: Record<string, number>; irqs: number; ioOps: number };
  notes: string[];
}

const perSec = (a: number, b: number, dt: number) => (dt > 0 && b >= a ? (b - a) / dt : 0);

/** The rates between two samples of one VM (a first sample, or a restart in between, gives zeros). */
export function rowOf(prev: Dom0V1.VmStats__Output | undefined, cur: Dom0V1.VmStats__Output): TopRow {
  const restarted = prev?.cpu && cur.cpu ? cur.cpu.instret < prev.cpu.instret : false;
  const p = restarted ? undefined : prev;
  const dt = p ? (cur.at - p.at) / 1000 : 0;
  const exits: Record<string, number> = {};
  const exitsPerSec: Record<string, number> = {};
  for (const e of cur.cpu?.exits ?? []) {
    exits[e.reason] = e.count;
    const before = p?.cpu?.exits.find((x) => x.reason === e.reason)?.count;
    exitsPerSec[e.reason] = before === undefined ? 0 : perSec(before, e.count, dt);
  }
  const instret = cur.cpu?.instret ?? 0;
  return {
    name: cur.name,
    state: cur.state,
    node: cur.node,
    mips: perSec(p?.cpu?.instret ?? instret, instret, dt) / 1e6,
    exitsPerSec,
    exitsTotalPerSec: Object.entries(exitsPerSec).reduce((a, [reason, b]) => (isRealExit(reason) ? a + b : a), 0),
    residentBytes: cur.memory?.residentBytes ?? 0,
    irqsPerSec: perSec(p?.devices?.irqsRaised ?? 0, cur.devices?.irqsRaised ?? 0, dt),
    ioOpsPerSec: perSec(p?.devices?.ioOps ?? 0, cur.devices?.ioOps ?? 0, dt),
    consoleBytesPerSec: perSec(p?.devices?.consoleBytesOut ?? 0, cur.devices?.consoleBytesOut ?? 0, dt),
    totals: { instret, exits, irqs: cur.devices?.irqsRaised ?? 0, ioOps: cur.devices?.ioOps ?? 0 },
    notes: cur.notes,
  };
}

const n = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function renderTop(rows: readonly TopRow[], now = Date.now()): string {
  // Every row of the platform's table, in its order (the mode monitors' too, 0 in emulate),
  // then any a newer cpu reported; each under its short label.
  const seen = new Set(rows.flatMap((r) => Object.keys(r.exitsPerSec)));
  const reasons = [...EXIT_REASONS.filter((x) => seen.has(x)), ...[...seen].filter((x) => !exitReasonRow(x))];
  const running = rows.filter((r) => r.state === 'running').length;
  const head = `splitvisor top - ${new Date(now).toISOString().slice(11, 19)}  ${rows.length} vm${rows.length === 1 ? '' : 's'}, ${running} running, ${rows.length - running} other\n`;
  const cells: string[][] = [
    ['NAME', 'STATE', 'NODE', 'MIPS', 'EXITS/s', ...reasons.map((r) => `${exitReasonRow(r)?.label ?? r.toUpperCase()}/s`), 'MEM', 'IRQ/s', 'IO/s', 'CONS B/s'],
  ];
  for (const r of rows) {
    cells.push([
      r.name,
      r.state,
      r.node || '-',
      n(r.mips),
      n(r.exitsTotalPerSec),
      ...reasons.map((x) => n(r.exitsPerSec[x] ?? 0)),
      fmtBytes(r.residentBytes),
      n(r.irqsPerSec),
      n(r.ioOpsPerSec),
      n(r.consoleBytesPerSec),
    ]);
  }
  const notes = rows.flatMap((r) => r.notes.map((x) => `  ${r.name}: ${x}\n`)).join('');
  return head + '\n' + table(cells) + (notes ? `\nnotes:\n${notes}` : '');
}

export interface TopOptions {
  names: string[];
  once: boolean;
  json: boolean;
  intervalMs: number;
  out: NodeJS.WritableStream;
  /** What the lab's supervisor says of its services (restarts shown under the table). */
  services?: () => readonly ServiceStatus[];
  /** Resolves when a person asks to quit (q, Ctrl-C); top runs until then. */
  quit?: Promise<void>;
}

async function sample(client: RpcClient<Dom0V1.Dom0Client>, names: string[]): Promise<Dom0V1.VmStats__Output[]> {
  const { vms } = await client.call('ListVms', {});
  for (const want of names) if (!vms.some((v) => v.name === want)) throw new Error(`no vm named "${want}"`);
  const chosen = vms.filter((v) => (names.length ? names.includes(v.name) : v.state === 'running' || v.state === 'paused'));
  const stats = await Promise.all(chosen.map((v) => client.call('GetStats', { name: v.name }).catch(() => undefined)));
  return stats.filter((s): s is Dom0V1.VmStats__Output => s !== undefined);
}

export async function runTop(client: RpcClient<Dom0V1.Dom0Client>, opts: TopOptions): Promise<void> {
  let prev = new Map<string, Dom0V1.VmStats__Output>();
  const sleep = (ms: number) =>
    new Promise<'tick' | 'quit'>((r) => {
      const t = setTimeout(() => r('tick'), ms);
      void opts.quit?.then(() => {
        clearTimeout(t);
        r('quit');
      });
    });
  const emit = (rows: TopRow[]) => {
    const services = opts.services?.() ?? [];
    if (opts.json) opts.out.write(JSON.stringify({ at: Date.now(), vms: rows, ...(services.length && { services }) }) + '\n');
    else {
      const restarts = restartsLine(services);
      opts.out.write((opts.once ? '' : '\x1b[H\x1b[2J') + renderTop(rows) + (restarts ? `\n${restarts}` : ''));
    }
  };
  for (let first = true; ; first = false) {
    const cur = await sample(client, opts.names);
    const rows = cur.map((s) => rowOf(prev.get(s.name), s));
    prev = new Map(cur.map((s) => [s.name, s]));
    if (!opts.once || !first) emit(rows);
    if (opts.once && !first) return;
    if ((await sleep(opts.intervalMs)) === 'quit') return;
  }
}
