/* The native pv-ops: the privileged instructions themselves (pvops.h). */
#include "kernel.h"

#define CSR_READ(name) ({ uint64_t v_; __asm__ volatile("csrr %0, " #name : "=r"(v_)); v_; })
#define CSR_WRITE(name, v) __asm__ volatile("csrw " #name ", %0" ::"r"(v) : "memory")
#define CSR_SET(name, v) __asm__ volatile("csrs " #name ", %0" ::"r"(v) : "memory")
#define CSR_CLEAR(name, v) __asm__ volatile("csrc " #name ", %0" ::"r"(v) : "memory")

static int use_sstc;

void pvops_native_use_sstc(int yes) { use_sstc = yes; }

static uint64_t n_csr_read(enum pv_csr c) {
  switch (c) {
  case PV_SSTATUS: return CSR_READ(sstatus);
  case PV_SIE: return CSR_READ(sie);
  case PV_SIP: return CSR_READ(sip);
  case PV_STVEC: return CSR_READ(stvec);
  case PV_SSCRATCH: return CSR_READ(sscratch);
  case PV_SEPC: return CSR_READ(sepc);
  case PV_SCAUSE: return CSR_READ(scause);
  case PV_STVAL: return CSR_READ(stval);
  case PV_SATP: return CSR_READ(satp);
  case PV_SCOUNTEREN: return CSR_READ(scounteren);
  case PV_TIME: return CSR_READ(time);
  case PV_STIMECMP: return CSR_READ(0x14d);
  default: panic("pvops: read of unknown csr %d", (int)c);
  }
}

static void n_csr_write(enum pv_csr c, uint64_t v) {
  switch (c) {
  case PV_SSTATUS: CSR_WRITE(sstatus, v); break;
  case PV_SIE: CSR_WRITE(sie, v); break;
  case PV_SIP: CSR_WRITE(sip, v); break;
  case PV_STVEC: CSR_WRITE(stvec, v); break;
  case PV_SSCRATCH: CSR_WRITE(sscratch, v); break;
  case PV_SEPC: CSR_WRITE(sepc, v); break;
  case PV_SATP: CSR_WRITE(satp, v); break;
  case PV_SCOUNTEREN: CSR_WRITE(scounteren, v); break;
  case PV_STIMECMP: CSR_WRITE(0x14d, v); break;
  default: panic("pvops: write of csr %d", (int)c);
  }
}

static void n_csr_set(enum pv_csr c, uint64_t v) {
  switch (c) {
  case PV_SSTATUS: CSR_SET(sstatus, v); break;
  case PV_SIE: CSR_SET(sie, v); break;
  default: n_csr_write(c, n_csr_read(c) | v);
  }
}

static void n_csr_clear(enum pv_csr c, uint64_t v) {
  switch (c) {
  case PV_SSTATUS: CSR_CLEAR(sstatus, v); break;
  case PV_SIE: CSR_CLEAR(sie, v); break;
  case PV_SIP: CSR_CLEAR(sip, v); break;
  default: n_csr_write(c, n_csr_read(c) & ~v);
  }
}

static void n_sfence_vma(uint64_t va) {
  if (va) __asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory");
  else __asm__ volatile("sfence.vma zero, zero" ::: "memory");
}

static void n_switch_satp(uint64_t satp) {
  CSR_WRITE(satp, satp);
  /* ASIDs are not used: every switch flushes the non-global entries. */
  __asm__ volatile("sfence.vma zero, zero" ::: "memory");
}

static void n_set_pte(uint64_t *pte, uint64_t v) { *(volatile uint64_t *)pte = v; }

static void n_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

/* SBI TIME extension (EID "TIME"), set_timer (FID 0): OpenSBI clears STIP and arms mtimecmp. */
static void n_set_timer(uint64_t deadline) {
  if (use_sstc) {
    CSR_WRITE(0x14d, deadline);
    return;
  }
  register uint64_t a0 __asm__("a0") = deadline;
  register uint64_t a6 __asm__("a6") = 0;
  register uint64_t a7 __asm__("a7") = 0x54494D45;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a6), "r"(a7) : "a1", "memory");
}

/* SBI SRST (EID "SRST"), system_reset (FID 0): type 0 shutdown. */
static void n_system_reset(uint64_t reason) {
  register uint64_t a0 __asm__("a0") = 0;
  register uint64_t a1 __asm__("a1") = reason;
  register uint64_t a6 __asm__("a6") = 0;
  register uint64_t a7 __asm__("a7") = 0x53525354;
  __asm__ volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
}

static void n_pt_nop(uint64_t root) {}
static void n_lazy_mmu(int on) {}

const struct pvops pvops_native = {
  .name = "native",
  .csr_read = n_csr_read,
  .csr_write = n_csr_write,
  .csr_set = n_csr_set,
  .csr_clear = n_csr_clear,
  .user_return = userret,
  .sfence_vma = n_sfence_vma,
  .switch_satp = n_switch_satp,
  .set_pte = n_set_pte,
  .wfi = n_wfi,
  .set_timer = n_set_timer,
  .system_reset = n_system_reset,
  .user_vector = uservec,
  .kernel_vector = kernelvec,
  .direct_paging = 0,
  .pt_pin = n_pt_nop,
  .pt_unpin = n_pt_nop,
  .lazy_mmu = n_lazy_mmu,
};

const struct pvops *pv = &pvops_native;
