/* Traps: from user mode (system calls, ebreak, page faults, interrupts) and in the kernel
   (interrupts only; anything else is a kernel bug and panics). */
#include "kernel.h"

#define SSTATUS_SIE (1UL << 1)
#define SSTATUS_SPIE (1UL << 5)
#define SSTATUS_SPP (1UL << 8)
#define SSTATUS_FS (3UL << 13)
#define SIE_SSIE (1UL << 1)
#define SIE_STIE (1UL << 5)
#define SIE_SEIE (1UL << 9)
#define INTERRUPT (1UL << 63)

extern int need_resched;

void trap_init(void) {
  pv->csr_write(PV_STVEC, (uint64_t)pv->kernel_vector);
  pv->csr_set(PV_SIE, SIE_STIE | SIE_SEIE);
}

static void external_intr(void) {
  uint32_t irq = plic_claim();
  if (!irq) return;
  if (irq == boot.uart.irq) console_intr();
  else virtio_blk_intr(); /* the only other source the kernel enables */
  plic_complete(irq);
}

/* 1: an interrupt was handled. */
static int handle_interrupt(uint64_t scause) {
  if (!(scause & INTERRUPT)) return 0;
  switch (scause & ~INTERRUPT) {
  case 5: timer_intr(); return 1;
  case 9: external_intr(); return 1;
  default: panic("unexpected interrupt, scause 0x%lx", scause);
  }
}

void kerneltrap(void) {
  uint64_t scause = pv->csr_read(PV_SCAUSE);
  uint64_t sepc = pv->csr_read(PV_SEPC);
  uint64_t sstatus = pv->csr_read(PV_SSTATUS);
  if (!handle_interrupt(scause))
    panic("kernel trap: scause 0x%lx, sepc 0x%lx, stval 0x%lx", scause, sepc, pv->csr_read(PV_STVAL));
  /* A nested trap would have changed these: put them back for the vector's return. */
  pv->csr_write(PV_SEPC, sepc);
  pv->csr_write(PV_SSTATUS, sstatus);
}

static const char *fault_name(uint64_t cause) {
  switch (cause) {
  case 12: return "instruction page fault";
  case 13: return "load page fault";
  case 15: return "store page fault";
  case 0: return "misaligned instruction";
  case 1: return "instruction access fault";
  case 2: return "illegal instruction";
  case 4: return "misaligned load";
  case 5: return "load access fault";
  case 6: return "misaligned store";
  case 7: return "store access fault";
  default: return "unexpected exception";
  }
}

void usertrap(void) {
  pv->csr_write(PV_STVEC, (uint64_t)pv->kernel_vector);
  struct proc *p = myproc();
  struct trapframe *tf = p->tf;
  tf->epc = pv->csr_read(PV_SEPC);
  uint64_t scause = pv->csr_read(PV_SCAUSE);
  if (handle_interrupt(scause)) {
    /* a timer or device interrupt taken in user mode */
  } else if (scause == 8) {
    tf->epc += 4;
    syscall(p);
  } else if (scause == 3) {
    /* ebreak: the trap benchmark's round trip. c.ebreak is 2 bytes, ebreak 4. */
    uint16_t insn = 0;
    if (copyin(p, &insn, tf->epc, sizeof insn) < 0) proc_kill_fault(p, "ebreak from unreadable code", tf->epc);
    tf->epc += (insn & 3) == 3 ? 4 : 2;
    tf->a0 += 1;
    p->ebreaks++;
  } else if (scause == 12 || scause == 13 || scause == 15) {
    uint64_t va = pv->csr_read(PV_STVAL);
    if (vm_fault(p, va, scause == 15, scause == 12) < 0) proc_kill_fault(p, fault_name(scause), va);
  } else {
    proc_kill_fault(p, fault_name(scause), pv->csr_read(PV_STVAL));
  }
  if (p->killed) proc_exit(p->killed);
  if (need_resched) sched_yield();
  if (p->killed) proc_exit(p->killed);
  usertrap_return();
}

void usertrap_return(void) {
  struct proc *p = myproc();
  pv->csr_clear(PV_SSTATUS, SSTATUS_SIE);
  pv->csr_write(PV_STVEC, (uint64_t)pv->user_vector);
  pv->csr_write(PV_SSCRATCH, (uint64_t)p->tf);
  pv->csr_write(PV_SEPC, p->tf->epc);
  uint64_t s = pv->csr_read(PV_SSTATUS);
  s &= ~(SSTATUS_SPP | SSTATUS_FS); /* to U-mode; no floating point in user programs */
  s |= SSTATUS_SPIE;                /* interrupts on there */
  pv->csr_write(PV_SSTATUS, s);
  pv->user_return(p->tf);
}
