// How VMs look to a person: sizes, durations, tables, the `info` page. Pure functions of
// what the API returned, so they are tested without a lab.
import type { Dom0V1 } from '@splitvisor/proto';
import { describeExit, type ServiceStatus } from '@splitvisor/lab';

export function fmtBytes(n: number): string {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return `${n / (1 << 30)} GiB`;
  if (n >= 1 << 20) return `${Number((n / (1 << 20)).toFixed(1))} MiB`;
  if (n >= 1 << 10) return `${Number((n / (1 << 10)).toFixed(1))} KiB`;
  return `${n} B`;
}

export function fmtDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map(
      (r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}

/** Seconds the VM has run in its current boot, or ran in its last one. */
export function uptimeOf(v: Dom0V1.VmInfo__Output, now = Date.now()): number | undefined {
  if (!v.startedAt) return undefined;
  return ((v.stoppedAt || now) - v.startedAt) / 1000;
}

export function listTable(vms: readonly Dom0V1.VmInfo__Output[], now = Date.now()): string {
  const rows: string[][] = [['NAME', 'STATE', 'MODE', 'NODE', 'MEMORY', 'UPTIME', 'EXIT', 'REASON']];
  for (const v of vms) {
    const up = uptimeOf(v, now);
    rows.push([
      v.name,
      v.state,
      v.mode || 'emulate',
      v.node || '-',
      fmtBytes(v.memoryBytes),
      up === undefined ? '-' : fmtDuration(up),
      v.stoppedAt ? String(v.exitCode) : '-',
      v.reason,
    ]);
  }
  return table(rows);
}

export function infoPage(v: Dom0V1.VmInfo__Output, now = Date.now()): string {
  const when = (ms: number) => (ms ? new Date(ms).toISOString() : '-');
  const up = uptimeOf(v, now);
  const rows: [string, string][] = [
    ['name', v.name],
    ['state', v.state],
    ['mode', v.mode || 'emulate'],
    ['node', v.node || '-'],
    ['memory', fmtBytes(v.memoryBytes)],
    ['vcpus', String(v.vcpus)],
    [v.firmware ? 'firmware' : 'image', v.image],
    ...(v.kernel ? ([['kernel', v.kernel]] as [string, string][]) : []),
    ['on_poweroff', v.onPoweroff],
    ['on_reboot', v.onReboot],
    ['on_crash', v.onCrash],
    ['boots', String(v.boots)],
    ['created', when(v.createdAt)],
    ['started', when(v.startedAt)],
    ['uptime', up === undefined ? '-' : fmtDuration(up)],
    ['stopped', when(v.stoppedAt)],
    ['exit code', v.stoppedAt ? String(v.exitCode) : '-'],
    ['reason', v.reason || '-'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `${k.padEnd(w)}  ${val}\n`).join('');
}

/** The services that restarted, one line for `list` and `top` ('' when none did). */
export function restartsLine(services: readonly ServiceStatus[] | undefined, now = Date.now()): string {
  const restarted = (services ?? []).filter((s) => s.restarts > 0);
  if (restarted.length === 0) return '';
  const one = (s: ServiceStatus) =>
    `${s.name} ${s.restarts}x${s.state === 'restarting' ? ' (restarting now)' : ''}` +
    (s.lastExit ? ` (last: ${describeExit(s.lastExit)} ${fmtDuration((now - s.lastExit.at) / 1000)} ago)` : '');
  return `services restarted: ${restarted.map(one).join(', ')}\n`;
}

/** `splitvisor health` of a whole lab: each service, where, its health, its restarts. */
export function servicesTable(services: readonly (ServiceStatus & { address: string; health: string })[], now = Date.now()): string {
  const rows: string[][] = [['SERVICE', 'ADDRESS', 'HEALTH', 'PID', 'UP', 'RESTARTS', 'LAST EXIT']];
  for (const s of services) {
    rows.push([
      s.name,
      s.address,
      s.health,
      s.pid === undefined ? '-' : String(s.pid),
      s.state === 'up'
        ? fmtDuration((now - s.upSince) / 1000)
        : s.state === 'frozen'
          ? `frozen (${fmtDuration(Math.max(0, (s.frozenUntil ?? now) - now) / 1000)} left)`
          : 'restarting',
      String(s.restarts),
      s.lastExit ? `${describeExit(s.lastExit)}, ${fmtDuration((now - s.lastExit.at) / 1000)} ago` : '-',
    ]);
  }
  return table(rows);
}
