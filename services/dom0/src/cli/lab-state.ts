// Where a running lab says it is: .lab/lab.json under the repository (or SPLITVISOR_LAB_DIR),
// written by `splitvisor up` and removed when it stops. Env variables override it.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type ServiceName, type ServiceStatus } from '@splitvisor/lab';

export interface LabState {
  pid: number;
  natsUrl: string;
  addresses: Record<ServiceName, string>;
  startedAt: number;
  /** Every cpu node's address when there is more than one (`addresses.cpu` is the first). */
  cpuNodes?: readonly string[];
  /** A secure lab's certificates (the CLI presents cli.crt from here). */
  tlsDir?: string;
  /** What the supervisor of `up` says of each service: pid, restarts, last exit. */
  services?: readonly ServiceStatus[];
  /** The supervisor's control socket (process faults: `splitvisor fault kill|stop|cont|restart`). */
  control?: string;
}

export function labDir(): string {
  return process.env['SPLITVISOR_LAB_DIR'] || join(REPO_ROOT, '.lab');
}

export function labStateFile(): string {
  return join(labDir(), 'lab.json');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The running lab, or undefined (a state file whose process is gone is stale and ignored). */
export function readLabState(): LabState | undefined {
  const f = labStateFile();
  if (!existsSync(f)) return undefined;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as LabState;
    return alive(s.pid) ? s : undefined;
  } catch {
    return undefined;
  }
}

export function writeLabState(s: LabState): void {
  mkdirSync(labDir(), { recursive: true });
  // Whole or not at all: a reader polling for the file never sees it half written.
  const tmp = `${labStateFile()}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  renameSync(tmp, labStateFile());
}

export function removeLabState(pid: number): void {
  const f = labStateFile();
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as LabState;
    if (s.pid === pid) rmSync(f, { force: true });
  } catch {
    /* already gone */
  }
}

/** A service instance's address in a lab state (`cpu-2` is the second of `cpuNodes`). */
export function addressIn(s: LabState, name: string): string | undefined {
  if (name.startsWith('cpu-')) return s.cpuNodes?.[Number(name.slice(4)) - 1];
  return s.addresses[name as ServiceName];
}

/** dom0's address for a client (all the CLI talks to), and where the CLI's certificate is
 *  when the lab is secure: env first, then the lab state file. */
export function endpoints(): { dom0: string; natsUrl?: string; tlsDir?: string } | undefined {
  const envDom0 = process.env['SPLITVISOR_DOM0_ADDR'];
  const envNats = process.env['SPLITVISOR_NATS_URL'];
  const envTls = process.env['SPLITVISOR_TLS_DIR'];
  if (envDom0) return { dom0: envDom0, ...(envNats ? { natsUrl: envNats } : {}), ...(envTls ? { tlsDir: envTls } : {}) };
  const s = readLabState();
  if (!s) return undefined;
  const tlsDir = envTls || s.tlsDir;
  return { dom0: s.addresses.dom0, natsUrl: envNats || s.natsUrl, ...(tlsDir ? { tlsDir } : {}) };
}
