// `splitvisor bench <suite>`: measurements a person runs from the toolstack. One suite so
// far, `modes` (issue 12): the guest kernel's microbenchmarks per virtualization mode and on QEMU.
export { benchModes, BenchRunError, parseOnly, KERNEL_ELF, FW_JUMP, type BenchModesOptions } from './bench-modes.js';
export { KERNEL_BENCHMARKS, KernelOutputReader, parseKernelLine, benchBootargs, type KernelEvent } from './kernel-output.js';
export { summarize, renderTables, median, fmt, QEMU, type BenchSample, type ColumnRun, type Row, type Cell, type BenchModesReport } from './results.js';
export { renderChart, nsLabel } from './chart-svg.js';
export { counterDiff } from './lab-run.js';
export { qemuArgs } from './qemu-run.js';
