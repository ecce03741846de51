/* kmain: from fw_jump's S-mode entry to the first process. */
#include "kernel.h"

struct kargs kargs;
/* pv: 1024 table frames (a process needs about five) in two 2 MiB pages. */
#define PT_ARENA_PAGES 1024UL
#define PT_ARENA_ALIGN (2UL << 20)
extern char __kernel_end[];
extern const uint8_t init_start[], init_end[], true_start[], true_end[];

static const struct program programs[] = {
  {"init", init_start, init_end},
  {"true", true_start, true_end},
};

const struct program *program_find(const char *name) {
  for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
    if (!strcmp(programs[i].name, name)) return &programs[i];
  return NULL;
}

static uint64_t parse_uint(const char *s, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (uint64_t)(s[i] - '0');
  return v;
}

/* The kernel's own boot arguments; run=, iters= and sync are the init program's. */
static void parse_kargs(const char *a) {
  while (*a) {
    while (*a == ' ') a++;
    const char *w = a;
    while (*a && *a != ' ') a++;
    size_t n = (size_t)(a - w);
    if (n == 10 && !strncmp(w, "panic-test", n)) kargs.panic_test = 1;
    else if (n == 9 && !strncmp(w, "hang-test", n)) kargs.hang_test = 1;
    else if (n == 15 && !strncmp(w, "bench-fail-test", n)) kargs.bench_fail_test = 1;
    else if (n == 4 && !strncmp(w, "sync", n)) kargs.sync = 1;
    else if (n > 9 && !strncmp(w, "watchdog=", 9)) kargs.watchdog_s = parse_uint(w + 9, n - 9);
  }
}

void kmain(uint64_t hartid, uint64_t dtb) {
  pv = &pvops_native;
  pv->csr_write(PV_STVEC, (uint64_t)kernelvec);
  fdt_parse(dtb, hartid);
  pvops_native_use_sstc(boot.sstc);
  uint64_t free_lo = (uint64_t)__kernel_end, arena = 0;
  if (pvops_pv_probe()) {
    /* pv: the page-table arena, 2 MiB-aligned so the kernel maps it read-only in 2 MiB pages */
    arena = (free_lo + PT_ARENA_ALIGN - 1) & ~(PT_ARENA_ALIGN - 1);
    free_lo = arena + PT_ARENA_PAGES * PAGE_SIZE;
    pvops_pv_start(arena, PT_ARENA_PAGES);
    pv->csr_write(PV_STVEC, (uint64_t)pv->kernel_vector);
  }
  console_init();
  vm_init(arena, arena ? PT_ARENA_PAGES : 0);
  uint64_t top = boot.mem_base + boot.mem_size;
  if (boot.dtb_addr >= free_lo && boot.dtb_addr < top) top = PAGE_ROUND_DOWN(boot.dtb_addr);
  mem_init(free_lo, top);
  plic_init();
  virtio_probe();
  kprintf("splitvisor-kernel: hart %lu, %lu MiB, %d virtio devices, sstc %s, pv-ops %s\n", hartid, boot.mem_size >> 20,
          boot.nvirtio, boot.sstc ? "yes" : "no", pv->name);
  parse_kargs(boot.bootargs);
  if (kargs.panic_test) panic("panic-test: a deliberate panic after boot");
  virtio_blk_init(); /* says why on the console when a virtio-blk cannot be driven */
  trap_init();
  console_enable_irq();
  pv->csr_write(PV_SCOUNTEREN, 2); /* TM: user programs read `time` for their timings */
  timer_init();
  proc_init();
  proc_start_init();
  scheduler();
}
