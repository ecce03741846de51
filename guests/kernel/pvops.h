/*
 * The one pv-ops table: every privileged operation of the kernel goes through it (CSR reads
 * and writes, the sret path to user mode, sfence.vma, satp switches, page-table writes, wfi,
 * the timer, the power-off). Only the `native` implementation exists (pvops_native.c): it executes the
 * instructions. The paravirtual one (pvops_pv.c: hypercalls, as Linux's pv_ops on Xen)
 * replaces it at boot when the hypervisor offers Splitvisor's pv extension (pv_abi.h).
 * The trap vectors are part of each implementation (entry.S, entry_pv.S): installed from
 * user_vector/kernel_vector, left through user_return.
 */
#ifndef PVOPS_H
#define PVOPS_H
#include "types.h"

struct trapframe;

/* The S-mode CSRs the kernel touches (privileged spec 1.12, chapter 4). */
enum pv_csr {
  PV_SSTATUS, PV_SIE, PV_SIP, PV_STVEC, PV_SSCRATCH, PV_SEPC, PV_SCAUSE, PV_STVAL,
  PV_SATP, PV_SCOUNTEREN, PV_TIME, PV_STIMECMP, PV_NCSR
};

struct pvops {
  const char *name;
  uint64_t (*csr_read)(enum pv_csr csr);
  void (*csr_write)(enum pv_csr csr, uint64_t value);
  void (*csr_set)(enum pv_csr csr, uint64_t bits);
  void (*csr_clear)(enum pv_csr csr, uint64_t bits);
  /* Leave the kernel for user mode with this trapframe (restores it, then sret). */
  void (*user_return)(struct trapframe *tf) __attribute__((noreturn));
  /* sfence.vma for one page of one address space (va 0: all pages). */
  void (*sfence_vma)(uint64_t va);
  /* Make `satp` the current translation (and flush what it needs). */
  void (*switch_satp)(uint64_t satp);
  /* Every page-table entry write. */
  void (*set_pte)(uint64_t *pte, uint64_t value);
  void (*wfi)(void);
  /* The next timer interrupt at this value of `time` (UINT64_MAX: none). */
  void (*set_timer)(uint64_t deadline);
  /* Power off (SBI SRST): reason 0 none, 1 system failure. Returns only if refused. */
  void (*system_reset)(uint64_t reason);
  /* The trap vectors for traps from user mode and in the kernel. */
  void (*user_vector)(void);
  void (*kernel_vector)(void);
  /*
   * Direct paging (pv): page tables come from the arena, which the kernel maps read-only and
   * writes only through set_pte; roots are pinned before use and come in pairs (the kernel
   * root, then the user root with the user gigabyte only); the kernel's own leaves carry U,
   * for it runs in the hart's U-mode. 0 native.
   */
  int direct_paging;
  void (*pt_pin)(uint64_t root);
  void (*pt_unpin)(uint64_t root);
  /* Between lazy_mmu(1) and lazy_mmu(0), leaf set_pte writes may be queued (a fence, a
     non-leaf write or the end sends them). */
  void (*lazy_mmu)(int on);
};

extern const struct pvops *pv;
extern const struct pvops pvops_native;
extern const struct pvops pvops_pv;
/* pv: 1 when the hypervisor offers the pv extension (then pvops_pv_start before paging). */
int pvops_pv_probe(void);
/* Registers the vcpu page and the page-table arena [base, base + pages * 4 KiB). */
void pvops_pv_start(uint64_t arena_base, uint64_t arena_pages);
/* Native set_timer: SBI TIME or, when the DTB says the hart has Sstc, stimecmp. */
void pvops_native_use_sstc(int yes);

#endif
