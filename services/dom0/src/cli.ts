#!/usr/bin/env node
// splitvisor: the toolstack CLI (as Xen's xl). `splitvisor help` lists the commands.
import { RpcError } from '@splitvisor/rpc';
import { CliError, consoleCmd, create, down, health, list, run, simple, up } from './cli/commands.js';

const USAGE = `usage: splitvisor <command> [args]

  up                    start NATS and the four services (Ctrl-C stops them)
  down                  stop the running lab
  run <vm.yaml>         create and start a VM, attached to its console; exits with the
                        guest's code (starts a lab for the VM's lifetime if none runs)
  create <vm.yaml>      create a VM (memory, image loaded, devices attached)
  start <vm>            start a created VM
  list [--json]         the VMs and their states
  console <vm>          attach to a VM's console (history, then live; Ctrl-] detaches)
  destroy <vm>          stop a VM at once and free everything it holds
  health <host:port>    ask a service's grpc.health.v1 (exit 0 when SERVING)
`;

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const [cmd, ...rest] = args;
  const need = (n: number, what: string) => {
    if (rest.length < n) throw new CliError(`${cmd}: missing ${what}\n${USAGE}`, 2);
    return rest[n - 1]!;
  };
  switch (cmd) {
    case 'up':
      return up({ quiet: rest.includes('--quiet') });
    case 'down':
      return down();
    case 'run':
      return run(need(1, '<vm.yaml>'));
    case 'create':
      return create(need(1, '<vm.yaml>'), json);
    case 'start':
      return simple('StartVm', need(1, '<vm>'), json);
    case 'destroy':
      return simple('DestroyVm', need(1, '<vm>'), json);
    case 'list':
      return list(json);
    case 'console':
      return consoleCmd(need(1, '<vm>'));
    case 'health':
      return health(need(1, '<host:port>'));
    case 'exec': {
      // `splitvisor exec <elf|bin> [...]`: one hart and a minimal platform in this host, no
      // services. The hart engine's launcher (libs/riscv/bin/exec.js) runs as a child
      // process, since dom0 may not import the cpu-scoped engine; its status is the guest's.
      const { spawn } = await import('node:child_process');
      const { constants } = await import('node:os');
      const { fileURLToPath } = await import('node:url');
      const launcher = fileURLToPath(new URL('../../../libs/riscv/bin/exec.js', import.meta.url));
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
    const msg = e instanceof RpcError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
    process.stderr.write(`splitvisor: ${msg}\n`);
    process.exit(e instanceof CliError ? e.exitCode : 1);
  },
);
