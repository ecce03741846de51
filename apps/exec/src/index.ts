// @splitvisor/exec: `splitvisor exec`, the virt machine in one process. Its face is the
// launcher (bin/exec.js, which dom0's CLI resolves through this package); the machine is
// exported for programs that drive it directly.
export { runExec, EXEC_USAGE, EXIT_MAX_INSNS, EXIT_STUCK, EXIT_USAGE } from './main.js';
export { ExecMachine, ICOUNT_INSNS_PER_TICK, type ClockMode, type ExecMachineOptions, type ExecResult } from './machine.js';
