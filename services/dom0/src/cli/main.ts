#!/usr/bin/env node
// splitvisor: the toolstack CLI (as Xen's xl). `splitvisor help` lists the commands.
import { RpcError } from '@splitvisor/rpc';
import { CliError, consoleCmd, create, down, events, health, healthAll, info, lifecycle, list, run, shutdown, stats, top, up } from './commands.js';
import { intFlag, parseArgs, UsageError, type ParsedArgs } from './args.js';
import { FAULT_USAGE, FaultRefused, LINK_FAULT_USAGE, linkFault, processFault } from './fault.js';
import { EXERCISE_USAGE, ExerciseError, exerciseList, exerciseRun, exerciseRunAll } from './exercise/index.js';
import { PROCESS_ACTIONS } from '@splitvisor/faults';

const USAGE = `usage: splitvisor <command> [args]

  up [--cpu-nodes N] [--nats-cluster 3|5] [--insecure] [--any-ports]
                        start NATS and the four services (N cpu nodes; Ctrl-C stops them),
                        NATS as a cluster of 3 or 5 nodes with as many JetStream copies,
                        with mutual TLS from a lab CA and NATS users per service
                        (--insecure: plaintext, and it says what that gives up); a
                        service that dies is restarted (backoff 0.5 s doubling to 10 s);
                        ports 50051-50054 when free, any free ones with --any-ports
                        (several labs on one machine start side by side without a race);
                        --with-parent: the lab stops when the process that started it is gone
  down                  stop the running lab
  run <vm.yaml>         create and start a VM, attached to its console; exits with the
                        guest's code (starts a lab for the VM's lifetime if none runs)
  create <vm.yaml>      create a VM (memory, images loaded, devices attached, placed)
  start <vm>            start a created (or stopped) VM
  pause <vm>            park its vCPUs at a safepoint
  resume <vm>           let them go on
  reboot <vm>           stop, reload the images, start again
  shutdown <vm> [--timeout ms]   orderly: vCPUs stop, devices flush, memory freed
  destroy <vm>          stop a VM at once and forget it
  list                  the VMs: state, node, memory, uptime, exit code, reason
  info <vm>             one VM in full (config, policies, times)
  console <vm>          attach to a VM's console (history, then live; Ctrl-] detaches)
  events [vm] [--from-start] [--no-follow]   lifecycle events (follows until Ctrl-C)
  top [vm...] [--once] [--interval ms]       per VM each second: exits/s by reason,
                        MIPS, resident memory, IRQs/s, I/O ops/s (q quits)
  stats <vm>            one VM's raw numbers from cpu, mmu and io-backend (JSON)
  health                every service of the running lab: health, pid, restarts, last exit
  health <host:port> [--server S] [--as I]   ask a service's grpc.health.v1 (exit 0
                        when SERVING); in a secure lab the answer must come from S
                        (default: the service lab.json places there), and the CLI
                        presents I's certificate from SPLITVISOR_TLS_DIR (default cli;
                        a compose service's health check is the service itself)
${FAULT_USAGE}${LINK_FAULT_USAGE}${EXERCISE_USAGE}  exec <image> [...]    run an image on one hart in this process, no services
  bench modes [--runs N] [--iters N] [--only a,b] [--timeout s] [--json f] [--svg f]
                        the guest kernel's microbenchmarks in every mode this build has
                        and on QEMU: guest ns/op, exits per op by reason, host µs/op
                        (--append 'words' adds kernel boot arguments, e.g. bench-fail-test)

  --json                for scripts: list, info, create and the lifecycle commands print
                        JSON; events and top print one JSON object per line
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const args = (booleans: string[], valued: string[] = []): ParsedArgs => parseArgs(rest, ['json', ...booleans], valued);
  const one = (a: ParsedArgs, what: string): string => {
    if (a.positional.length < 1) throw new UsageError(`missing ${what}`);
    if (a.positional.length > 1) throw new UsageError(`unexpected argument "${a.positional[1]}"`);
    return a.positional[0]!;
  };
  const json = (a: ParsedArgs) => a.flags.has('json');
  switch (cmd) {
    case 'up': {
      const a = args(['quiet', 'insecure', 'any-ports', 'with-parent'], ['cpu-nodes', 'nats-cluster']);
      const natsCluster = intFlag(a, 'nats-cluster', 1, 1, 5);
      if (natsCluster % 2 === 0) throw new UsageError(`--nats-cluster: "${natsCluster}" is even; JetStream needs a majority: 1, 3 or 5`);
      return up({
        quiet: a.flags.has('quiet'),
        insecure: a.flags.has('insecure'),
        anyPorts: a.flags.has('any-ports'),
        cpuNodes: intFlag(a, 'cpu-nodes', 1, 1, 16),
        natsCluster,
        withParent: a.flags.has('with-parent'),
      });
    }
    case 'down':
      return down();
    case 'run':
      return run(one(args([]), '<vm.yaml>'));
    case 'create': {
      const a = args([]);
      return create(one(a, '<vm.yaml>'), json(a));
    }
    case 'start':
    case 'pause':
    case 'resume':
    case 'reboot':
    case 'destroy': {
      const a = args([]);
      const method = ({ start: 'StartVm', pause: 'PauseVm', resume: 'ResumeVm', reboot: 'RebootVm', destroy: 'DestroyVm' } as const)[cmd];
      return lifecycle(method, one(a, '<vm>'), json(a));
    }
    case 'shutdown': {
      const a = args([], ['timeout']);
      return shutdown(one(a, '<vm>'), json(a), intFlag(a, 'timeout', 10_000, 1, 600_000));
    }
    case 'list': {
      const a = args([]);
      if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"`);
      return list(json(a));
    }
    case 'info': {
      const a = args([]);
      return info(one(a, '<vm>'), json(a));
    }
    case 'stats':
      return stats(one(args([]), '<vm>'));
    case 'console':
      return consoleCmd(one(args([]), '<vm>'));
    case 'events': {
      const a = args(['from-start', 'no-follow']);
      if (a.positional.length > 1) throw new UsageError(`unexpected argument "${a.positional[1]}"`);
      return events({ name: a.positional[0] ?? '', fromStart: a.flags.has('from-start'), follow: !a.flags.has('no-follow'), json: json(a) });
    }
    case 'top': {
      const a = args(['once'], ['interval']);
      return top({ names: a.positional, once: a.flags.has('once'), json: json(a), intervalMs: intFlag(a, 'interval', 1000, 100, 60_000) });
    }
    case 'health': {
      const a = args([], ['server', 'as']);
      if (a.positional.length === 0 && !a.flags.has('server')) return healthAll(json(a));
      const str = (k: string) => (typeof a.flags.get(k) === 'string' ? (a.flags.get(k) as string) : undefined);
      return health(one(a, '<host:port>'), str('server'), str('as'));
    }
    case 'fault': {
      const a = args([], ['for', 'seed']);
      if ((PROCESS_ACTIONS as readonly string[]).includes(a.positional[0] ?? '')) return processFault(a);
      return linkFault(a, json(a));
    }
    case 'exercise': {
      const a = args(['all']);
      const [sub, name, extra] = a.positional;
      if (sub === 'list') {
        if (name !== undefined) throw new UsageError(`unexpected argument "${name}"`);
        return exerciseList(json(a), process.stdout);
      }
      if (sub !== 'run') throw new UsageError(sub === undefined ? 'missing list or run' : `unknown exercise action "${sub}" (list, run)`);
      if (a.flags.has('all')) {
        if (name !== undefined) throw new UsageError(`--all runs every exercise: unexpected "${name}"`);
        return exerciseRunAll(json(a), process.stdout);
      }
      if (name === undefined) throw new UsageError('missing <name> or --all (splitvisor exercise list shows them)');
      if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
      return exerciseRun(name, json(a), process.stdout);
    }
    case 'bench': {
      // --json here names a file (the report), not the output style: its own flag list.
      const a = parseArgs(rest, [], ['runs', 'iters', 'only', 'timeout', 'json', 'svg', 'append']);
      if (a.positional[0] !== 'modes')
        throw new UsageError(a.positional.length ? `unknown suite "${a.positional[0]}" (suites: modes)` : 'missing <suite> (suites: modes)');
      if (a.positional.length > 1) throw new UsageError(`unexpected argument "${a.positional[1]}"`);
      const str = (k: string) => {
        const v = a.flags.get(k);
        return typeof v === 'string' ? v : undefined;
      };
      const { benchModes, parseOnly } = await import('./bench/index.js');
      return benchModes({
        runs: intFlag(a, 'runs', 3, 1, 100),
        ...(a.flags.has('iters') && { iters: intFlag(a, 'iters', 1, 1, 100_000_000) }),
        only: parseOnly(str('only')),
        timeoutS: intFlag(a, 'timeout', 600, 1, 86_400),
        ...(str('json') !== undefined && { json: str('json') }),
        ...(str('svg') !== undefined && { svg: str('svg') }),
        ...(str('append') !== undefined && { append: str('append') }),
        out: process.stdout,
        err: process.stderr,
      });
    }
    case 'exec': {
      // `splitvisor exec <elf|bin> [...]`: the virt machine in one process, no services. The
      // exec app's launcher, found through its package (@splitvisor/exec, a dependency),
      // runs as a child process, since dom0 imports no machine model; its status is the guest's.
      const { spawn } = await import('node:child_process');
      const { constants } = await import('node:os');
      const { fileURLToPath } = await import('node:url');
      const launcher = fileURLToPath(import.meta.resolve('@splitvisor/exec/bin/exec.js'));
      const child = spawn(process.execPath, [launcher, ...rest], { stdio: 'inherit' });
      return new Promise<number>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
      });
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new CliError(`unknown command "${cmd}"\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`splitvisor: ${process.argv[2]}: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    if (e instanceof ExerciseError) {
      process.stderr.write(`splitvisor: exercise: ${e.message}\n`);
      process.exit(2);
    }
    if (e instanceof FaultRefused) {
      process.stderr.write(`splitvisor: fault: ${e.message}\n`);
      process.exit(2);
    }
    const msg = e instanceof RpcError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
    process.stderr.write(`splitvisor: ${msg}\n`);
    process.exit(e instanceof CliError ? e.exitCode : 1);
  },
);
