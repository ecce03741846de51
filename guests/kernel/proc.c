/*
 * Processes: a fixed table, one kernel stack each, a round-robin scheduler that runs on its
 * own context (xv6's shape), sleep/wakeup on channels. One hart, and the kernel is not
 * preemptible: it runs with interrupts off except in the idle loop, so nothing here locks.
 * fork shares pages copy-on-write; exec loads an ELF embedded in the image (progs.S).
 */
#include "kernel.h"

static struct proc procs[NPROC];
static struct trapframe trapframes[NPROC];
static uint8_t kstacks[NPROC][KSTACK_SIZE] __attribute__((section(".kstack"), aligned(16)));
static struct context sched_ctx;
static struct proc *current;
static struct proc *initproc;
static int next_pid = 1;
static uint64_t cur_satp;
int need_resched;

struct proc *myproc(void) { return current; }

void proc_init(void) {
  for (int i = 0; i < NPROC; i++) {
    procs[i].tf = &trapframes[i];
    procs[i].kstack = kstacks[i];
  }
}

int proc_count(void) {
  int n = 0;
  for (int i = 0; i < NPROC; i++) n += procs[i].state != P_UNUSED;
  return n;
}

static void address_space(pagetable_t pt) {
  uint64_t satp = satp_of(pt);
  if (satp != cur_satp) {
    pv->switch_satp(satp);
    cur_satp = satp;
  }
}

static void forkret(void) { usertrap_return(); }

static struct proc *alloc_proc(void) {
  for (int i = 0; i < NPROC; i++) {
    struct proc *p = &procs[i];
    if (p->state != P_UNUSED) continue;
    pagetable_t pt = uvm_create();
    if (!pt) return NULL;
    struct trapframe *tf = p->tf;
    uint8_t *ks = p->kstack;
    memset(p, 0, sizeof *p);
    memset(tf, 0, sizeof *tf);
    p->tf = tf;
    p->kstack = ks;
    p->pt = pt;
    p->pid = next_pid++;
    p->tf->kernel_sp = (uint64_t)(ks + KSTACK_SIZE);
    p->ctx.ra = (uint64_t)forkret;
    p->ctx.sp = (uint64_t)(ks + KSTACK_SIZE);
    return p;
  }
  return NULL;
}

/* Back to the scheduler; the caller has set the state. */
static void sched(void) {
  struct proc *p = current;
  swtch(&p->ctx, &sched_ctx);
}

void scheduler(void) {
  int last = 0;
  for (;;) {
    int ran = 0;
    for (int k = 1; k <= NPROC; k++) {
      struct proc *p = &procs[(last + k) % NPROC];
      if (p->state != P_RUNNABLE) continue;
      last = (int)(p - procs);
      p->state = P_RUNNING;
      current = p;
      address_space(p->pt);
      swtch(&sched_ctx, &p->ctx);
      current = NULL;
      ran = 1;
      break;
    }
    if (!ran) {
      /* Idle. wfi with SIE off wakes on any interrupt pending and enabled in sie (priv spec
         §3.3.3), so one that came in meanwhile is not slept through; then let it in. */
      pv->wfi();
      pv->csr_set(PV_SSTATUS, 2);
      pv->csr_clear(PV_SSTATUS, 2);
    }
  }
}

void sched_yield(void) {
  need_resched = 0;
  current->state = P_RUNNABLE;
  sched();
}

void sleep_on(void *chan) {
  struct proc *p = current;
  p->chan = chan;
  p->state = P_SLEEPING;
  sched();
  p->chan = NULL;
}

void wakeup(void *chan) {
  for (int i = 0; i < NPROC; i++)
    if (procs[i].state == P_SLEEPING && procs[i].chan == chan) procs[i].state = P_RUNNABLE;
}

/* ---- exec: an ELF64 RISC-V executable from the image ---- */
struct elf_hdr {
  uint8_t ident[16];
  uint16_t type, machine;
  uint32_t version;
  uint64_t entry, phoff, shoff;
  uint32_t flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf_phdr {
  uint32_t type, flags;
  uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* Map `prog` into a fresh page table; 0 and *entry, *end on success. */
static int load_elf(const struct program *prog, pagetable_t pt, uint64_t *entry, uint64_t *end) {
  size_t size = (size_t)(prog->end - prog->start);
  const struct elf_hdr *eh = (const struct elf_hdr *)prog->start;
  if (size < sizeof *eh || memcmp(eh->ident, "\177ELF\2\1", 6) || eh->machine != 0xf3) return -1;
  if (eh->phoff + (uint64_t)eh->phnum * sizeof(struct elf_phdr) > size) return -1;
  *end = USER_BASE;
  for (int i = 0; i < eh->phnum; i++) {
    const struct elf_phdr *ph = (const struct elf_phdr *)(prog->start + eh->phoff) + i;
    if (ph->type != 1 || ph->memsz == 0) continue;
    if (ph->vaddr < USER_BASE || ph->vaddr + ph->memsz > STACK_LO || ph->filesz > ph->memsz ||
        ph->offset + ph->filesz > size || (ph->vaddr & (PAGE_SIZE - 1)))
      return -1;
    uint64_t perm = PTE_R | (ph->flags & 2 ? PTE_W : 0) | (ph->flags & 1 ? PTE_X : 0);
    for (uint64_t off = 0; off < ph->memsz; off += PAGE_SIZE) {
      uint8_t *page = frame_alloc();
      if (!page) return -1;
      if (off < ph->filesz) {
        uint64_t n = ph->filesz - off < PAGE_SIZE ? ph->filesz - off : PAGE_SIZE;
        memcpy(page, prog->start + ph->offset + off, n);
      }
      if (uvm_map(pt, ph->vaddr + off, (uint64_t)page, perm) < 0) {
        frame_decref((uint64_t)page);
        return -1;
      }
    }
    if (ph->vaddr + ph->memsz > *end) *end = ph->vaddr + ph->memsz;
  }
  *entry = eh->entry;
  return 0;
}

static int load_program(struct proc *p, const char *name, uint64_t arg) {
  const struct program *prog = program_find(name);
  if (!prog) return -1;
  pagetable_t pt = uvm_create();
  if (!pt) return -1;
  uint64_t entry, end;
  if (load_elf(prog, pt, &entry, &end) < 0) {
    uvm_free(pt);
    return -1;
  }
  pagetable_t old = p->pt;
  p->pt = pt;
  if (p == current) address_space(pt);
  if (old) uvm_free(old);
  p->heap_lo = p->brk = PAGE_ROUND_UP(end);
  memset(p->tf, 0, __builtin_offsetof(struct trapframe, kernel_sp));
  p->tf->epc = entry;
  p->tf->sp = USER_TOP;
  p->tf->a0 = arg;
  size_t l = strlen(name);
  if (l >= sizeof p->name) l = sizeof p->name - 1;
  memcpy(p->name, name, l);
  p->name[l] = 0;
  return 0;
}

int proc_exec(const char *name, uint64_t arg) { return load_program(current, name, arg); }

void proc_start_init(void) {
  struct proc *p = alloc_proc();
  if (!p || load_program(p, "init", 0) < 0) panic("cannot start init");
  p->fd[0] = file_alloc(F_CONSOLE);
  p->fd[1] = file_alloc(F_CONSOLE);
  if (!p->fd[0] || !p->fd[1]) panic("no files for init's console");
  p->fd[1]->writable = 1;
  initproc = p;
  p->state = P_RUNNABLE;
}

int proc_fork(void) {
  struct proc *p = current, *np = alloc_proc();
  if (!np) return -1;
  if (uvm_copy_cow(p->pt, np->pt) < 0) {
    uvm_free(np->pt);
    np->state = P_UNUSED;
    return -1;
  }
  uint64_t ksp = np->tf->kernel_sp;
  *np->tf = *p->tf;
  np->tf->kernel_sp = ksp;
  np->tf->a0 = 0;
  np->brk = p->brk;
  np->heap_lo = p->heap_lo;
  for (int i = 0; i < NFD; i++)
    if (p->fd[i]) {
      np->fd[i] = p->fd[i];
      file_dup(p->fd[i]);
    }
  memcpy(np->name, p->name, sizeof np->name);
  np->parent = p;
  np->state = P_RUNNABLE;
  return np->pid;
}

void proc_exit(int status) {
  struct proc *p = current;
  for (int i = 0; i < NFD; i++)
    if (p->fd[i]) {
      file_close(p->fd[i]);
      p->fd[i] = NULL;
    }
  if (p == initproc) {
    if (status == 0) {
      kprintf("kernel: done\n");
      machine_exit(0);
    }
    kprintf("kernel: init exited with status %d\n", status);
    machine_exit(1);
  }
  int orphans = 0;
  for (int i = 0; i < NPROC; i++)
    if (procs[i].parent == p && procs[i].state != P_UNUSED) {
      procs[i].parent = initproc;
      orphans |= procs[i].state == P_ZOMBIE;
    }
  if (orphans) wakeup(initproc);
  p->xstatus = status;
  p->state = P_ZOMBIE;
  wakeup(p->parent);
  sched();
  panic("zombie %d ran", p->pid);
}

int proc_wait(uint64_t status_uva) {
  struct proc *p = current;
  for (;;) {
    int kids = 0;
    for (int i = 0; i < NPROC; i++) {
      struct proc *c = &procs[i];
      if (c->parent != p || c->state == P_UNUSED) continue;
      kids = 1;
      if (c->state != P_ZOMBIE) continue;
      int pid = c->pid;
      if (status_uva && copyout(p, status_uva, &c->xstatus, sizeof c->xstatus) < 0) return -1;
      uvm_free(c->pt);
      c->pt = 0;
      c->parent = NULL;
      c->state = P_UNUSED;
      return pid;
    }
    if (!kids || p->killed) return -1;
    sleep_on(p);
  }
}

int proc_kill(int pid) {
  for (int i = 0; i < NPROC; i++) {
    struct proc *p = &procs[i];
    if (p->pid != pid || p->state == P_UNUSED || p->state == P_ZOMBIE) continue;
    if (p == initproc) return -1;
    p->killed = STATUS_KILLED;
    if (p->state == P_SLEEPING) p->state = P_RUNNABLE;
    return 0;
  }
  return -1;
}

void proc_kill_fault(struct proc *p, const char *what, uint64_t addr) {
  kprintf("kernel: pid %d (%s) killed: %s at 0x%lx, pc 0x%lx\n", p->pid, p->name, what, addr, p->tf->epc);
  p->killed = STATUS_FAULT;
}

/* The watchdog's report: each process, its state and what a sleeper waits for. */
void proc_dump(void) {
  static const char *const names[] = {"unused", "runnable", "running", "sleeping", "zombie"};
  for (int i = 0; i < NPROC; i++) {
    struct proc *p = &procs[i];
    if (p->state == P_UNUSED) continue;
    kprintf("kernel: pid %d (%s) %s", p->pid, p->name, names[p->state]);
    if (p->state == P_SLEEPING) kprintf(" on 0x%lx", (uint64_t)p->chan);
    kprintf(", pc 0x%lx\n", p->tf->epc);
  }
}
