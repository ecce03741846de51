/* The system-call interface, shared by the kernel and the user programs. */
#ifndef ABI_H
#define ABI_H
#include "types.h"

/* a7 = number, a0..a3 = arguments, a0 = result (negative: an error). */
enum {
  SYS_EXIT, SYS_GETPID, SYS_FORK, SYS_EXEC, SYS_WAIT, SYS_KILL, SYS_WRITE, SYS_READ,
  SYS_PIPE, SYS_CLOSE, SYS_SBRK, SYS_MPROTECT, SYS_OPEN, SYS_FSYNC, SYS_PREAD, SYS_PWRITE,
  SYS_SYSINFO, SYS_GETARGS, SYS_MMIO_LSR, SYS_TICKWAIT, SYS_DRAIN, SYS_YIELD, SYS_SLEEP,
  SYS_EBREAKS, SYS_NSYS
};

/* Exit statuses the kernel gives a process it ends. */
#define STATUS_KILLED 137   /* kill() */
#define STATUS_FAULT 139    /* a bad access */

struct sysinfo {
  uint64_t hartid, mem_mib, timebase_hz, timer_irqs, frames_free;
  uint64_t nvirtio, sstc, blk, nproc;
};
#endif
