/* System calls (abi.h): a7 the number, a0..a3 the arguments, a0 the result. Every user
   pointer goes through copyin/copyout, which fault pages in as the user would. */
#include "kernel.h"

static struct file *fd_get(struct proc *p, uint64_t fd) { return fd < NFD ? p->fd[fd] : NULL; }

static int64_t fd_new(struct proc *p, struct file *f) {
  for (int i = 0; i < NFD; i++)
    if (!p->fd[i]) {
      p->fd[i] = f;
      return i;
    }
  return -1;
}

static int64_t sys_write(struct proc *p, uint64_t fd, uint64_t uva, uint64_t n) {
  struct file *f = fd_get(p, fd);
  if (!f || !f->writable) return -1;
  if (f->type == F_PIPE) return pipe_write(f->pipe, p, uva, n);
  if (f->type != F_CONSOLE) return -1;
  char buf[128];
  for (uint64_t done = 0; done < n;) {
    uint64_t chunk = n - done < sizeof buf ? n - done : sizeof buf;
    if (copyin(p, buf, uva + done, chunk) < 0) return -1;
    console_write(buf, chunk);
    done += chunk;
  }
  return (int64_t)n;
}

static int64_t sys_read(struct proc *p, uint64_t fd, uint64_t uva, uint64_t n) {
  struct file *f = fd_get(p, fd);
  if (!f || f->writable) return -1;
  if (f->type == F_PIPE) return pipe_read(f->pipe, p, uva, n);
  if (f->type != F_CONSOLE) return -1;
  char buf[64];
  int got = console_read(buf, n < sizeof buf ? n : sizeof buf);
  if (got < 0 || copyout(p, uva, buf, (size_t)got) < 0) return -1;
  return got;
}

static int64_t sys_pipe(struct proc *p, uint64_t uva) {
  struct file *rd, *wr;
  if (pipe_open(&rd, &wr) < 0) return -1;
  int64_t a = fd_new(p, rd), b = a < 0 ? -1 : fd_new(p, wr);
  int fds[2] = {(int)a, (int)b};
  if (a < 0 || b < 0 || copyout(p, uva, fds, sizeof fds) < 0) {
    if (a >= 0) p->fd[a] = NULL;
    if (b >= 0) p->fd[b] = NULL;
    file_close(rd);
    file_close(wr);
    return -1;
  }
  return 0;
}

static int64_t sys_sbrk(struct proc *p, int64_t delta) {
  uint64_t old = p->brk, nb = old + (uint64_t)delta;
  if (nb < p->heap_lo || nb > STACK_LO) return -1;
  if (delta < 0) uvm_unmap_range(p->pt, nb, old);
  p->brk = nb; /* growing maps nothing: the pages come on first touch (demand zero) */
  return (int64_t)old;
}

/* mprotect of one page: rw 0 read-only, 1 read-write. The previous state, or -1. */
static int64_t sys_mprotect(struct proc *p, uint64_t va, uint64_t rw) {
  uint64_t *pte = uvm_pte(p->pt, va);
  if ((va & (PAGE_SIZE - 1)) || !pte || !(*pte & PTE_V) || !(*pte & PTE_U)) return -1;
  uint64_t v = *pte;
  int was = !(v & PTE_RO) && (v & (PTE_W | PTE_COW)) != 0;
  if (!(v & (PTE_W | PTE_COW | PTE_RO))) return -1; /* program text stays read-only */
  if (rw) v = (v & ~PTE_RO) | (v & PTE_COW ? 0 : PTE_W); /* a shared page stays COW */
  else v = (v & ~PTE_W) | PTE_RO;
  pv->set_pte(pte, v);
  pv->sfence_vma(va);
  return was;
}

static int64_t sys_open(struct proc *p, uint64_t name_uva, uint64_t create) {
  char name[24];
  if (copyinstr(p, name, name_uva, sizeof name) < 0) return -1;
  int slot = fs_open(name, (int)create);
  if (slot < 0) return -1;
  struct file *f = file_alloc(F_STORE);
  if (!f) return -1;
  f->slot = slot;
  f->writable = 2; /* both ways: pread and pwrite */
  int64_t fd = fd_new(p, f);
  if (fd < 0) file_close(f);
  return fd;
}

static int64_t sys_sysinfo(struct proc *p, uint64_t uva) {
  struct sysinfo si = {
    .hartid = boot.hartid, .mem_mib = boot.mem_size >> 20, .timebase_hz = boot.timebase_hz,
    .timer_irqs = timer_irqs, .frames_free = frames_free(), .nvirtio = (uint64_t)boot.nvirtio,
    .sstc = (uint64_t)boot.sstc, .blk = (uint64_t)virtio_blk_present(), .nproc = (uint64_t)proc_count(),
  };
  return copyout(p, uva, &si, sizeof si);
}

void syscall(struct proc *p) {
  struct trapframe *tf = p->tf;
  uint64_t a0 = tf->a0, a1 = tf->a1, a2 = tf->a2, a3 = tf->a3;
  int64_t r = -1;
  struct file *f;
  switch (tf->a7) {
  case SYS_EXIT: proc_exit((int)a0);
  case SYS_GETPID: r = p->pid; break;
  case SYS_FORK: r = proc_fork(); break;
  case SYS_EXEC: {
    char name[16];
    if (copyinstr(p, name, a0, sizeof name) == 0 && proc_exec(name, a1) == 0) return; /* a fresh trapframe */
    break;
  }
  case SYS_WAIT: r = proc_wait(a0); break;
  case SYS_KILL: r = proc_kill((int)a0); break;
  case SYS_WRITE: r = sys_write(p, a0, a1, a2); break;
  case SYS_READ: r = sys_read(p, a0, a1, a2); break;
  case SYS_PIPE: r = sys_pipe(p, a0); break;
  case SYS_CLOSE:
    if ((f = fd_get(p, a0))) {
      file_close(f);
      p->fd[a0] = NULL;
      r = 0;
    }
    break;
  case SYS_SBRK: r = sys_sbrk(p, (int64_t)a0); break;
  case SYS_MPROTECT: r = sys_mprotect(p, a0, a1); break;
  case SYS_OPEN: r = sys_open(p, a0, a1); break;
  case SYS_FSYNC: r = (f = fd_get(p, a0)) && f->type == F_STORE ? fs_fsync() : -1; break;
  case SYS_PREAD: r = (f = fd_get(p, a0)) && f->type == F_STORE ? fs_pread(f->slot, p, a1, a2, a3) : -1; break;
  case SYS_PWRITE: r = (f = fd_get(p, a0)) && f->type == F_STORE ? fs_pwrite(f->slot, p, a1, a2, a3) : -1; break;
  case SYS_SYSINFO: r = sys_sysinfo(p, a0); break;
  case SYS_GETARGS: {
    size_t l = strlen(boot.bootargs) + 1;
    r = a1 >= l && copyout(p, a0, boot.bootargs, l) == 0 ? (int64_t)l - 1 : -1;
    break;
  }
  case SYS_MMIO_LSR: r = (int64_t)console_lsr(); break;
  case SYS_TICKWAIT: timer_wait_tick(); r = (int64_t)timer_irqs; break;
  case SYS_DRAIN: console_drain(); r = 0; break;
  case SYS_YIELD: sched_yield(); r = 0; break;
  case SYS_SLEEP: timer_sleep(a0 * boot.timebase_hz / 1000); r = 0; break;
  case SYS_EBREAKS: r = (int64_t)p->ebreaks; break;
  default: proc_kill_fault(p, "unknown system call", tf->a7); break;
  }
  tf->a0 = (uint64_t)r;
}
