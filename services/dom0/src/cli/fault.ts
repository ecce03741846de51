// `splitvisor fault`: process faults go to the supervisor of `splitvisor up` (control.ts),
// which holds the pids; link faults go to dom0, which hands them to every service on NATS.
import { PROCESS_ACTIONS, formatDuration } from '@splitvisor/faults';
import { RpcError } from '@splitvisor/rpc';
import type { Dom0V1 } from '@splitvisor/proto';
import { askControl } from './control.js';
import { withDom0 } from './commands.js';
import { table } from './views.js';
import { readLabState } from './lab-state.js';
import { UsageError, type ParsedArgs } from './args.js';

export class FaultRefused extends Error {}

export const FAULT_USAGE = `  fault kill|stop|cont|restart <service> [--for dur]
                        a process fault through the supervisor of \`up\`: kill (it is
                        restarted, counted), stop (SIGSTOP, as docker pause; SIGCONT at
                        --for, default 10s, at most 5m), cont, restart (graceful);
                        kill|restart nats: the bus down and up again on its port and store;
                        on a cluster (up --nats-cluster 3), kill nats-N leaves that node
                        down while the others carry on, restart nats-N brings it back
`;

/** A process fault on the running lab; prints what the supervisor did. */
export async function processFault(a: ParsedArgs): Promise<number> {
  const [action, service, extra] = a.positional;
  if (!action || !(PROCESS_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown fault action "${action ?? ''}"`);
  if (service === undefined) throw new UsageError(`missing <service> (fault ${action} <service>)`);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const s = readLabState();
  if (!s) throw new FaultRefused('no lab is running: process faults need the supervisor of `splitvisor up`');
  if (!s.control) throw new FaultRefused(`the lab (pid ${s.pid}) has no control socket: process faults need a lab started by \`splitvisor up\``);
  const forText = a.flags.get('for');
  const answer = await askControl(s.control, { action, service, ...(typeof forText === 'string' && { for: forText }) });
  if (!answer.ok) throw new FaultRefused(answer.error ?? 'refused');
  process.stdout.write(`${answer.message}\n`);
  return 0;
}

export const LINK_FAULT_USAGE = `  fault add <link> <kind> [params] [--for dur]
                        a link fault, through dom0 to every service (each ends it at its
                        deadline: --for, default 30s, at most 10m). Links: cpu:io-backend,
                        cpu:mmu, io-backend:mmu, dom0:<service>, irq|doorbell|recall|
                        console|shadow:<vm|*>, net:<network|*>. Kinds: latency <d> [jitter],
                        bandwidth <rate>, drop <p>, duplicate <p> (NATS), reorder <p>
                        [held, default 50ms] (NATS), partition (gRPC link, both ways)
  fault list            the link faults, time left, and which processes apply them
  fault clear [id]      end one link fault, or all
`;

async function dom0Call<T>(fn: (c: Parameters<Parameters<typeof withDom0>[0]>[0]) => Promise<T>): Promise<T> {
  try {
    return await withDom0(fn);
  } catch (e) {
    // A fault dom0 refused (malformed, unknown id) reads as one the supervisor refused.
    if (e instanceof RpcError && (e.code === 'INVALID_ARGUMENT' || e.code === 'NOT_FOUND')) throw new FaultRefused(e.message);
    throw e;
  }
}

function row(f: Dom0V1.FaultInfo__Output): string[] {
  return [f.spec?.id ?? '?', f.description, f.remainingMs ? formatDuration(Number(f.remainingMs)) : '-', String(f.hits), f.appliedBy.join(', ') || '-'];
}

export async function linkFault(a: ParsedArgs, json: boolean): Promise<number> {
  const [sub, ...words] = a.positional;
  switch (sub) {
    case 'add': {
      const forText = a.flags.get('for');
      const seed = a.flags.get('seed');
      if (seed !== undefined && (seed === true || !/^\d{1,9}$/.test(seed))) throw new UsageError(`--seed: "${String(seed)}" is not a whole number`);
      const f = await dom0Call((c) => c.call('AddFault', { words, for: typeof forText === 'string' ? forText : '', seed: seed ? Number(seed) : 0 }));
      process.stdout.write(
        json
          ? JSON.stringify(f) + '\n'
          : `${f.spec!.id}: ${f.description} for ${formatDuration(Number(f.remainingMs))} (until ${new Date(Number(f.spec!.expiresAtMs)).toISOString()})\n`,
      );
      return 0;
    }
    case 'list': {
      if (words.length) throw new UsageError(`unexpected argument "${words[0]}"`);
      const r = await dom0Call((c) => c.call('ListFaults', {}));
      if (json) process.stdout.write(JSON.stringify(r) + '\n');
      else if (!r.faults.length && !r.strays.length) process.stdout.write('no link faults\n');
      else process.stdout.write(table([['ID', 'FAULT', 'LEFT', 'HITS', 'APPLIED BY'], ...r.faults.map(row), ...r.strays.map(row)]));
      return 0;
    }
    case 'clear': {
      if (words.length > 1) throw new UsageError(`unexpected argument "${words[1]}"`);
      const r = await dom0Call((c) => c.call('ClearFaults', { id: words[0] ?? '' }));
      process.stdout.write(json ? JSON.stringify(r) + '\n' : `cleared ${r.faults.map((f) => f.spec?.id).join(', ') || 'nothing (no link faults)'}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown fault action "${sub ?? ''}" (${[...PROCESS_ACTIONS, 'add', 'list', 'clear'].join(', ')})`);
  }
}
