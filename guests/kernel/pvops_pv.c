/*
 * The paravirtual pv-ops (pvops.h) for Splitvisor's `pv` mode: hypercalls instead of
 * privileged instructions, the virtual supervisor registers in the vcpu page shared with the
 * monitor, and direct paging (page-table writes validated by the monitor, in batches).
 * docs/pv-abi.md is the ABI; pv_abi.h its numbers.
 */
#include "kernel.h"
#include "pv_abi.h"

#define SSTATUS_SIE (1UL << 1)

/* The vcpu page: what the hart's S-mode CSRs hold natively. */
struct pv_vcpu pv_vcpu __attribute__((aligned(4096)));
static uint64_t pv_scounteren, pv_satp;

struct sbiret { long error; long value; };

static struct sbiret hypercall(uint64_t eid, uint64_t fid, uint64_t a0, uint64_t a1, uint64_t a2) {
  register uint64_t r0 __asm__("a0") = a0;
  register uint64_t r1 __asm__("a1") = a1;
  register uint64_t r2 __asm__("a2") = a2;
  register uint64_t r6 __asm__("a6") = fid;
  register uint64_t r7 __asm__("a7") = eid;
  __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
  return (struct sbiret){(long)r0, (long)r1};
}

static uint64_t pv_call(uint64_t fid, uint64_t a0, uint64_t a1, uint64_t a2) {
  struct sbiret r = hypercall(PV_EID, fid, a0, a1, a2);
  if (r.error) panic("pv hypercall %lu (0x%lx, 0x%lx, 0x%lx): error %ld, value %ld", fid, a0, a1, a2, r.error, r.value);
  return (uint64_t)r.value;
}

int pvops_pv_probe(void) {
  /* SBI base extension (0x10), probe_extension (3). */
  struct sbiret r = hypercall(0x10, 3, PV_EID, 0, 0);
  return r.error == 0 && r.value != 0 && hypercall(PV_EID, PV_VERSION, 0, 0, 0).value == PV_ABI_VERSION;
}

/* ---- interrupts: the monitor injects what is pending (sip) and enabled when SIE is set ---- */

static void events_check(void) {
  if ((pv_vcpu.sstatus & SSTATUS_SIE) && (pv_vcpu.sip & pv_vcpu.sie)) pv_call(PV_EVENTS, 0, 0, 0);
}

static uint64_t *vcpu_field(enum pv_csr c) {
  switch (c) {
  case PV_SSTATUS: return &pv_vcpu.sstatus;
  case PV_SIE: return &pv_vcpu.sie;
  case PV_SIP: return &pv_vcpu.sip;
  case PV_STVEC: return &pv_vcpu.stvec;
  case PV_SSCRATCH: return &pv_vcpu.sscratch;
  case PV_SEPC: return &pv_vcpu.sepc;
  case PV_SCAUSE: return &pv_vcpu.scause;
  case PV_STVAL: return &pv_vcpu.stval;
  default: return NULL;
  }
}

static uint64_t p_csr_read(enum pv_csr c) {
  uint64_t *f = vcpu_field(c);
  if (f) return *(volatile uint64_t *)f;
  switch (c) {
  case PV_SATP: return pv_satp;
  case PV_SCOUNTEREN: return pv_scounteren;
  case PV_TIME: { uint64_t t; __asm__ volatile("rdtime %0" : "=r"(t)); return t; }
  default: panic("pvops(pv): read of csr %d", (int)c);
  }
}

static void p_csr_write(enum pv_csr c, uint64_t v) {
  uint64_t *f = vcpu_field(c);
  if (c == PV_SIP) panic("pvops(pv): sip is the monitor's");
  if (f) {
    *(volatile uint64_t *)f = v;
    if (c == PV_SSTATUS || c == PV_SIE) events_check();
    return;
  }
  /* the counters the user may read: the monitor lets U read time (pv-abi.md) */
  if (c == PV_SCOUNTEREN) pv_scounteren = v;
  else panic("pvops(pv): write of csr %d", (int)c);
}

static void p_csr_set(enum pv_csr c, uint64_t v) { p_csr_write(c, p_csr_read(c) | v); }
static void p_csr_clear(enum pv_csr c, uint64_t v) {
  if (c == PV_SIP) return; /* nothing the kernel clears there: SSIP is unused */
  p_csr_write(c, p_csr_read(c) & ~v);
}

/* ---- direct paging: batched, validated page-table writes ---- */

static uint64_t batch[PV_MMU_UPDATE_MAX][2] __attribute__((aligned(16)));
static uint64_t nbatch;
static int lazy;

static void batch_send(void) {
  if (!nbatch) return;
  uint64_t n = nbatch;
  nbatch = 0;
  pv_call(PV_MMU_UPDATE, (uint64_t)batch, n, 0);
}

static void p_set_pte(uint64_t *pte, uint64_t v) {
  batch[nbatch][0] = (uint64_t)pte;
  batch[nbatch][1] = v;
  nbatch++;
  /* A pointer to a table is read back at once by the walks: only leaves wait. */
  int leaf = (v & (PTE_R | PTE_W | PTE_X)) != 0 || !(v & PTE_V);
  if (!lazy || !leaf || nbatch == PV_MMU_UPDATE_MAX) batch_send();
}

static void p_lazy_mmu(int on) {
  lazy = on;
  if (!on) batch_send();
}

/* The monitor drops the hart's translations after every update (pv-abi.md), so a fence
   only needs the queued writes sent. */
static void p_sfence_vma(uint64_t va) { batch_send(); }

static void p_switch_satp(uint64_t satp) {
  batch_send();
  uint64_t user = satp ? satp + 1 : 0; /* the user root is the frame after the kernel's */
  pv_call(PV_SET_PT_BASE, satp, user, 0);
  pv_satp = satp;
}

static void p_pt_pin(uint64_t root) {
  batch_send();
  pv_call(PV_PIN, root, 0, 0);
  pv_call(PV_PIN, root + PAGE_SIZE, 0, 0);
}

static void p_pt_unpin(uint64_t root) {
  batch_send();
  pv_call(PV_UNPIN, root, 0, 0);
  pv_call(PV_UNPIN, root + PAGE_SIZE, 0, 0);
}

static void p_wfi(void) { pv_call(PV_BLOCK, 0, 0, 0); }

/* SBI TIME set_timer: the same call as native (pv-abi.md: the timer is SBI's). */
static void p_set_timer(uint64_t deadline) { hypercall(0x54494D45, 0, deadline, 0, 0); }

static void p_system_reset(uint64_t reason) {
  batch_send();
  hypercall(0x53525354, 0, 0, reason, 0);
}

void pvops_pv_start(uint64_t arena_base, uint64_t arena_pages) {
  pv_call(PV_REGISTER, (uint64_t)&pv_vcpu, arena_base, arena_pages);
  pv = &pvops_pv;
}

const struct pvops pvops_pv = {
  .name = "pv",
  .csr_read = p_csr_read,
  .csr_write = p_csr_write,
  .csr_set = p_csr_set,
  .csr_clear = p_csr_clear,
  .user_return = pv_userret,
  .sfence_vma = p_sfence_vma,
  .switch_satp = p_switch_satp,
  .set_pte = p_set_pte,
  .wfi = p_wfi,
  .set_timer = p_set_timer,
  .system_reset = p_system_reset,
  .user_vector = pv_uservec,
  .kernel_vector = pv_kernelvec,
  .direct_paging = 1,
  .pt_pin = p_pt_pin,
  .pt_unpin = p_pt_unpin,
  .lazy_mmu = p_lazy_mmu,
};
