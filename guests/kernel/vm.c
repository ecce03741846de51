/*
 * Sv39 (privileged spec 1.12 §4.4). The kernel lives in the same address space as every
 * process, as global mappings the user cannot touch: the devices' gigabyte (0..1 GiB) and
 * RAM identity-mapped from 0x80000000. A process owns the user gigabyte [USER_BASE,
 * USER_TOP) only, so a trap needs no satp switch.
 * Every PTE write goes through pv->set_pte, every flush through pv->sfence_vma.
 *
 * Natively the kernel's mappings are two gigapages and tables are ordinary frames. Under
 * direct paging (pv, pvops.h) the hypervisor validates every table: tables come from the
 * arena, which the kernel maps read-only, so RAM is mapped in 2 MiB pages (the arena's
 * read-only); kernel leaves carry U (the kernel runs in the hart's U-mode); each root has a
 * user twin after it holding the user gigabyte only, which the hart uses in user mode.
 */
#include "kernel.h"

static uint64_t kroot_native[512] __attribute__((aligned(4096)));
static uint64_t *kroot;
#define GIB (1UL << 30)
#define MIB2 (1UL << 21)
#define KLEAF (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D | PTE_G)
#define USER_SLOT 1 /* root index of the user gigabyte */

/* ---- the page-table arena (direct paging): frames the monitor zeroes when it releases them ---- */
#define ARENA_MAX 2048
static uint64_t arena_lo, arena_n;
static uint8_t arena_used[ARENA_MAX];

/* A zeroed table frame; `pair`: two adjacent ones (a root and its user twin). 0: none. */
static uint64_t pt_alloc_n(int pair) {
  if (!pv->direct_paging) return (uint64_t)frame_alloc();
  int n = pair ? 2 : 1;
  for (uint64_t i = 0; i + n <= arena_n; i += n)
    if (!arena_used[i] && (n == 1 || !arena_used[i + 1])) {
      for (int k = 0; k < n; k++) arena_used[i + k] = 1;
      return arena_lo + i * PAGE_SIZE;
    }
  return 0;
}
static uint64_t pt_alloc(void) { return pt_alloc_n(0); }

static void pt_free(uint64_t pa) {
  if (!pv->direct_paging) {
    frame_decref(pa);
    return;
  }
  uint64_t i = (pa - arena_lo) / PAGE_SIZE;
  if (pa < arena_lo || i >= arena_n || !arena_used[i]) panic("pt_free: 0x%lx is not an arena table", pa);
  arena_used[i] = 0;
}

void vm_init(uint64_t arena_base, uint64_t arena_pages) {
  uint64_t u = pv->direct_paging ? PTE_U : 0;
  if (!pv->direct_paging) {
    kroot = kroot_native;
  } else {
    if (arena_pages > ARENA_MAX) panic("vm_init: an arena of %lu pages (at most %d)", arena_pages, ARENA_MAX);
    arena_lo = arena_base, arena_n = arena_pages;
    kroot = (uint64_t *)pt_alloc_n(1);
  }
  pv->set_pte(&kroot[0], PA_PTE(0UL) | KLEAF | u);            /* MMIO: UART, PLIC, virtio, test */
  for (uint64_t a = boot.mem_base & ~(GIB - 1); a < boot.mem_base + boot.mem_size; a += GIB) {
    if (a / GIB == USER_SLOT || a / GIB >= 256) panic("ram at 0x%lx collides with the user gigabyte", a);
    if (!pv->direct_paging) {
      pv->set_pte(&kroot[a / GIB], PA_PTE(a) | KLEAF | PTE_X);
      continue;
    }
    uint64_t *l1 = (uint64_t *)pt_alloc();
    if (!l1) panic("vm_init: no arena frame for the kernel's tables");
    for (uint64_t m = a; m < a + GIB; m += MIB2) {
      if (m + MIB2 <= boot.mem_base || m >= boot.mem_base + boot.mem_size) continue;
      int table = m < arena_base + arena_pages * PAGE_SIZE && arena_base < m + MIB2;
      pv->set_pte(&l1[(m / MIB2) % 512], PA_PTE(m) | (table ? KLEAF & ~PTE_W : KLEAF | PTE_X) | u);
    }
    pv->set_pte(&kroot[a / GIB], PA_PTE((uint64_t)l1) | PTE_V | PTE_G);
  }
  pv->pt_pin((uint64_t)kroot);
  pv->switch_satp(SATP_SV39 | ((uint64_t)kroot >> 12));
}

uint64_t satp_of(pagetable_t pt) { return SATP_SV39 | (pt >> 12); }

pagetable_t uvm_create(void) {
  uint64_t *root = (uint64_t *)pt_alloc_n(1);
  if (!root) return 0;
  for (int i = 0; i < 512; i++)
    if (kroot[i]) pv->set_pte(&root[i], kroot[i]);
  pv->pt_pin((uint64_t)root);
  return (pagetable_t)root;
}

/* The leaf PTE of `va`, allocating the tables on the way when `alloc`. NULL: none. */
static uint64_t *walk(pagetable_t pt, uint64_t va, int alloc) {
  uint64_t *table = (uint64_t *)pt;
  for (int level = 2; level > 0; level--) {
    uint64_t *pte = &table[(va >> (12 + 9 * level)) & 0x1ff];
    if (*pte & PTE_V) {
      if (*pte & (PTE_R | PTE_W | PTE_X)) return NULL; /* a kernel gigapage */
      table = (uint64_t *)PTE_PA(*pte);
    } else {
      if (!alloc) return NULL;
      uint64_t *next = (uint64_t *)pt_alloc();
      if (!next) return NULL;
      pv->set_pte(pte, PA_PTE((uint64_t)next) | PTE_V);
      /* the user twin of the root holds the user gigabyte too */
      if (level == 2 && pv->direct_paging) pv->set_pte((uint64_t *)(pt + PAGE_SIZE) + ((va >> 30) & 0x1ff), PA_PTE((uint64_t)next) | PTE_V);
      table = next;
    }
  }
  return &table[(va >> 12) & 0x1ff];
}

uint64_t *uvm_pte(pagetable_t pt, uint64_t va) {
  if (va < USER_BASE || va >= USER_TOP) return NULL;
  return walk(pt, va, 0);
}

int uvm_map(pagetable_t pt, uint64_t va, uint64_t pa, uint64_t perm) {
  uint64_t *pte = walk(pt, va, 1);
  if (!pte) return -1;
  if (*pte & PTE_V) panic("uvm_map: 0x%lx already mapped", va);
  pv->set_pte(pte, PA_PTE(pa) | perm | PTE_V | PTE_U | PTE_A | PTE_D);
  return 0;
}

/* Visit every user leaf: fn(pte, va) for each valid one. */
static int for_each_leaf(pagetable_t pt, int (*fn)(uint64_t *pte, uint64_t va, void *arg), void *arg) {
  uint64_t *l2 = &((uint64_t *)pt)[USER_SLOT];
  if (!(*l2 & PTE_V)) return 0;
  uint64_t *t1 = (uint64_t *)PTE_PA(*l2);
  for (int i = 0; i < 512; i++) {
    if (!(t1[i] & PTE_V)) continue;
    uint64_t *t0 = (uint64_t *)PTE_PA(t1[i]);
    for (int j = 0; j < 512; j++)
      if (t0[j] & PTE_V) {
        int r = fn(&t0[j], USER_BASE + ((uint64_t)i << 21) + ((uint64_t)j << 12), arg);
        if (r) return r;
      }
  }
  return 0;
}

static int drop_leaf(uint64_t *pte, uint64_t va, void *arg) {
  frame_decref(PTE_PA(*pte));
  pv->set_pte(pte, 0);
  return 0;
}

void uvm_free(pagetable_t pt) {
  pv->lazy_mmu(1);
  for_each_leaf(pt, drop_leaf, NULL);
  pv->lazy_mmu(0);
  uint64_t *l2 = &((uint64_t *)pt)[USER_SLOT];
  if (*l2 & PTE_V) {
    uint64_t *t1 = (uint64_t *)PTE_PA(*l2);
    for (int i = 0; i < 512; i++)
      if (t1[i] & PTE_V) pt_free(PTE_PA(t1[i]));
    pt_free((uint64_t)t1);
  }
  pt_free(pt);
  if (pv->direct_paging) pt_free(pt + PAGE_SIZE);
  /* pv: the monitor releases (and zeroes) the tables under the roots; the arena's
     bookkeeping above only marked them free, and nothing is allocated in between. */
  pv->pt_unpin(pt);
}

/* Fork: the child maps the parent's frames; any page that is or may become writable is
   shared read-only and marked COW in both, so the first write copies it (vm_fault). */
static int share_leaf(uint64_t *pte, uint64_t va, void *arg) {
  pagetable_t to = (pagetable_t)arg;
  uint64_t v = *pte;
  if (v & (PTE_W | PTE_COW | PTE_RO)) {
    v = (v & ~PTE_W) | PTE_COW;
    pv->set_pte(pte, v);
  }
  uint64_t *cpte = walk(to, va, 1);
  if (!cpte) return -1;
  pv->set_pte(cpte, v);
  frame_incref(PTE_PA(v));
  return 0;
}

int uvm_copy_cow(pagetable_t from, pagetable_t to) {
  pv->lazy_mmu(1);
  int r = for_each_leaf(from, share_leaf, (void *)to);
  pv->lazy_mmu(0);
  pv->sfence_vma(0); /* the parent's writable entries just became read-only */
  return r;
}

void uvm_unmap_range(pagetable_t pt, uint64_t lo, uint64_t hi) {
  for (uint64_t va = PAGE_ROUND_UP(lo); va < hi; va += PAGE_SIZE) {
    uint64_t *pte = uvm_pte(pt, va);
    if (pte && (*pte & PTE_V)) {
      frame_decref(PTE_PA(*pte));
      pv->set_pte(pte, 0);
      pv->sfence_vma(va);
    }
  }
}

static int demand_zero_region(struct proc *p, uint64_t va) {
  return (va >= p->heap_lo && va < p->brk) || (va >= STACK_LO && va < USER_TOP);
}

int vm_fault(struct proc *p, uint64_t va, int write, int exec) {
  if (va < USER_BASE || va >= USER_TOP) return -1;
  va = PAGE_ROUND_DOWN(va);
  uint64_t *pte = walk(p->pt, va, 0);
  if (pte && (*pte & PTE_V)) {
    uint64_t v = *pte;
    if (!write || !(v & PTE_COW) || (v & PTE_RO)) return -1; /* a real protection fault */
    uint64_t pa = PTE_PA(v);
    if (frame_refs(pa) == 1) { /* the other sharers are gone: the page is ours again */
      pv->set_pte(pte, (v | PTE_W) & ~PTE_COW);
    } else {
      void *copy = frame_alloc();
      if (!copy) return -1;
      memcpy(copy, (void *)pa, PAGE_SIZE);
      pv->set_pte(pte, PA_PTE((uint64_t)copy) | ((v | PTE_W) & ~PTE_COW & 0x3ff));
      frame_decref(pa);
    }
    pv->sfence_vma(va);
    return 0;
  }
  if (exec || !demand_zero_region(p, va)) return -1;
  void *page = frame_alloc();
  if (!page) return -1;
  if (uvm_map(p->pt, va, (uint64_t)page, PTE_R | PTE_W) < 0) {
    frame_decref((uint64_t)page);
    return -1;
  }
  pv->sfence_vma(va);
  return 0;
}

/* The kernel address of user `va` for an access, faulting the page in as the user would. */
static uint8_t *user_addr(struct proc *p, uint64_t va, int write) {
  uint64_t *pte = uvm_pte(p->pt, va);
  uint64_t need = write ? PTE_W : PTE_R;
  if (!pte || !(*pte & PTE_V) || !(*pte & need)) {
    if (vm_fault(p, va, write, 0) < 0) return NULL;
    pte = uvm_pte(p->pt, va);
    if (!pte || !(*pte & need)) return NULL;
  }
  if (!(*pte & PTE_U)) return NULL;
  return (uint8_t *)(PTE_PA(*pte) + (va & (PAGE_SIZE - 1)));
}

int copyout(struct proc *p, uint64_t uva, const void *src, size_t n) {
  const uint8_t *s = src;
  while (n) {
    uint8_t *d = user_addr(p, uva, 1);
    if (!d) return -1;
    size_t chunk = PAGE_SIZE - (uva & (PAGE_SIZE - 1));
    if (chunk > n) chunk = n;
    memcpy(d, s, chunk);
    uva += chunk, s += chunk, n -= chunk;
  }
  return 0;
}

int copyin(struct proc *p, void *dst, uint64_t uva, size_t n) {
  uint8_t *d = dst;
  while (n) {
    uint8_t *s = user_addr(p, uva, 0);
    if (!s) return -1;
    size_t chunk = PAGE_SIZE - (uva & (PAGE_SIZE - 1));
    if (chunk > n) chunk = n;
    memcpy(d, s, chunk);
    uva += chunk, d += chunk, n -= chunk;
  }
  return 0;
}

int copyinstr(struct proc *p, char *dst, uint64_t uva, size_t max) {
  for (size_t i = 0; i < max; i++) {
    uint8_t *s = user_addr(p, uva + i, 0);
    if (!s) return -1;
    dst[i] = (char)*s;
    if (!*s) return 0;
  }
  return -1;
}
