/*
 * The microbenchmarks, in the manner of Adams & Agesen (ASPLOS 2006): each times `iters`
 * operations with the `time` CSR and prints `bench <name>: <iters> iters, <ns> ns/op`, or
 * `bench <name>: FAILED <reason>` when its own check of the result fails.
 */
#include "ulib.h"

#define PAGE 4096
typedef const char *(*bench_fn)(uint64_t iters, uint64_t *ticks, char *why, size_t n);

/* getpid: the cheapest round trip through the kernel. */
static const char *b_null_syscall(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  int want = getpid() + (args.bench_fail_test ? 1 : 0); /* bench-fail-test: a check that must fail */
  uint64_t t0 = rdtime();
  int bad = 0;
  for (uint64_t i = 0; i < iters; i++) bad |= getpid() != want;
  *ticks = rdtime() - t0;
  if (bad) {
    sformat(why, n, "getpid() gave %d, expected %d%s", getpid(), want, args.bench_fail_test ? " (bench-fail-test)" : "");
    return why;
  }
  return NULL;
}

/* A first touch of a fresh heap page: a demand-zero fault. */
static const char *b_page_fault(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  volatile uint8_t *p = (volatile uint8_t *)sbrk((int64_t)(iters * PAGE));
  if ((int64_t)p == -1) return "sbrk failed";
  uint64_t sum = 0, t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) sum += p[i * PAGE];
  *ticks = rdtime() - t0;
  for (uint64_t i = 0; i < iters; i++) p[i * PAGE + 1] = 1;
  for (uint64_t i = 0; i < iters; i++) sum += p[i * PAGE + 1];
  sbrk(-(int64_t)(iters * PAGE));
  if (sum != iters) {
    sformat(why, n, "the pages held %lu, expected %lu", sum, iters);
    return why;
  }
  return NULL;
}

/* mprotect of one page, alternating read-only and read-write: one PTE write and a flush. */
static const char *b_pte_change(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  static uint8_t page[PAGE] __attribute__((aligned(PAGE)));
  page[0] = 7; /* our own writable copy */
  uint64_t t0 = rdtime();
  int bad = 0;
  for (uint64_t i = 0; i < iters; i++) bad |= mprotect(page, (int)(i & 1)) != (int)((i & 1) ^ 1);
  *ticks = rdtime() - t0;
  if (iters & 1) mprotect(page, 1);
  page[1] = 8;
  if (bad || page[0] != 7) return "mprotect returned the wrong previous state";
  return NULL;
}

/* Pipe ping-pong between two processes: one op is one switch (two per round trip). */
static const char *b_context_switch(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  int ab[2], ba[2];
  if (pipe(ab) < 0 || pipe(ba) < 0) return "pipe failed";
  int pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    uint8_t c;
    for (uint64_t i = 0; i < iters; i++) {
      if (read(ab[0], &c, 1) != 1) exit(1);
      c++;
      write(ba[1], &c, 1);
    }
    exit(0);
  }
  uint8_t c = 0;
  int bad = 0;
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) {
    uint8_t sent = c;
    write(ab[1], &c, 1);
    if (read(ba[0], &c, 1) != 1 || c != (uint8_t)(sent + 1)) bad = 1;
  }
  *ticks = (rdtime() - t0) / 2;
  int status = -1;
  wait(&status);
  close(ab[0]), close(ab[1]), close(ba[0]), close(ba[1]);
  if (bad || status != 0) {
    sformat(why, n, "the ping-pong lost count (child status %d)", status);
    return why;
  }
  return NULL;
}

static const char *b_fork_exit(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  int bad = 0;
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) {
    int pid = fork(), status = -1;
    if (pid == 0) exit(7);
    bad |= pid < 0 || wait(&status) != pid || status != 7;
  }
  *ticks = rdtime() - t0;
  return bad ? "a child did not exit with 7" : NULL;
}

static const char *b_fork_exec(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  int bad = 0;
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) {
    int pid = fork(), status = -1;
    if (pid == 0) {
      exec("true", (i & 63) + 1);
      exit(0);
    }
    bad |= pid < 0 || wait(&status) != pid || status != (int)((i & 63) + 1);
  }
  *ticks = rdtime() - t0;
  return bad ? "an exec'd child did not exit with its argument" : NULL;
}

/* ebreak: a trap to the kernel and back (it adds one to a0). */
static const char *b_trap(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  uint64_t before = ebreaks();
  register uint64_t a0 __asm__("a0") = 0;
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) __asm__ volatile("ebreak" : "+r"(a0));
  *ticks = rdtime() - t0;
  if (a0 != iters || ebreaks() - before != iters) {
    sformat(why, n, "%lu ebreaks counted, expected %lu", a0, iters);
    return why;
  }
  return NULL;
}

/* A device register read by the kernel: UART LSR, with the transmitter idle (drained). */
static const char *b_mmio_read(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  drain();
  uint64_t bad = 0, t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) bad |= (mmio_lsr() & 0x60) ^ 0x60; /* THRE and TEMT */
  *ticks = rdtime() - t0;
  if (bad) {
    sformat(why, n, "LSR said the idle transmitter was busy (0x%lx)", bad);
    return why;
  }
  return NULL;
}

/* A timer armed for "now", its interrupt taken, the sleeper woken. */
static const char *b_timer_irq(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  struct sysinfo a, b;
  sysinfo(&a);
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) tickwait();
  *ticks = rdtime() - t0;
  sysinfo(&b);
  if (b.timer_irqs - a.timer_irqs < iters) {
    sformat(why, n, "%lu timer interrupts for %lu waits", b.timer_irqs - a.timer_irqs, iters);
    return why;
  }
  return NULL;
}

static uint8_t blk_out[PAGE], blk_in[PAGE];

static int bench_file(void) {
  int fd = open("bench.dat", 1);
  if (fd < 0) return -1;
  for (int i = 0; i < PAGE; i++) blk_out[i] = (uint8_t)(i ^ 0xa5);
  if (pwrite(fd, blk_out, PAGE, 0) != PAGE || pwrite(fd, blk_out, PAGE, PAGE) != PAGE) return -1;
  return fd;
}

static const char *b_blk_read_4k(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  int fd = bench_file();
  if (fd < 0) return "the bench file could not be written (no virtio-blk disk?)";
  int bad = 0;
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) bad |= pread(fd, blk_in, PAGE, (i & 1) * PAGE) != PAGE;
  *ticks = rdtime() - t0;
  close(fd);
  if (bad || memcmp(blk_in, blk_out, PAGE)) return "a block read back wrong";
  return NULL;
}

static const char *b_blk_write_4k(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  int fd = bench_file();
  if (fd < 0) return "the bench file could not be written (no virtio-blk disk?)";
  int bad = 0;
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) {
    blk_out[0] = (uint8_t)i;
    bad |= pwrite(fd, blk_out, PAGE, (i & 1) * PAGE) != PAGE;
  }
  *ticks = rdtime() - t0;
  bad |= pread(fd, blk_in, PAGE, ((iters - 1) & 1) * PAGE) != PAGE;
  close(fd);
  if (bad || memcmp(blk_in, blk_out, PAGE)) return "the last block written read back wrong";
  return NULL;
}

static const char *b_blk_flush(uint64_t iters, uint64_t *ticks, char *why, size_t n) {
  int fd = bench_file();
  if (fd < 0) return "the bench file could not be written (no virtio-blk disk?)";
  int bad = 0;
  uint64_t t0 = rdtime();
  for (uint64_t i = 0; i < iters; i++) bad |= fsync(fd) != 0;
  *ticks = rdtime() - t0;
  close(fd);
  return bad ? "a flush failed" : NULL;
}

/* Default iteration counts: the whole suite in well under 2 s on QEMU. */
static const struct { const char *name; bench_fn fn; uint64_t iters; } benches[] = {
  {"null_syscall", b_null_syscall, 2000}, {"page_fault", b_page_fault, 500},
  {"pte_change", b_pte_change, 1000},     {"context_switch", b_context_switch, 500},
  {"fork_exit", b_fork_exit, 100},        {"fork_exec", b_fork_exec, 100},
  {"trap", b_trap, 2000},                 {"mmio_read", b_mmio_read, 500},
  {"timer_irq", b_timer_irq, 200},        {"blk_read_4k", b_blk_read_4k, 100},
  {"blk_write_4k", b_blk_write_4k, 100},  {"blk_flush", b_blk_flush, 20},
};
#define NBENCH (sizeof benches / sizeof benches[0])

/* Is `name` in the comma-separated list (empty: every benchmark)? */
static int selected(const char *name) {
  const char *l = args.bench_list;
  if (!*l) return 1;
  size_t nl = strlen(name);
  while (*l) {
    const char *e = l;
    while (*e && *e != ',') e++;
    if ((size_t)(e - l) == nl && !strncmp(l, name, nl)) return 1;
    l = *e ? e + 1 : e;
  }
  return 0;
}

static void wait_byte(void) {
  char c;
  drain();
  read(0, &c, 1);
}

int run_benchmarks(void) {
  struct sysinfo si;
  sysinfo(&si);
  /* every name asked for must exist */
  for (const char *l = args.bench_list; *l;) {
    const char *e = l;
    while (*e && *e != ',') e++;
    int known = 0;
    for (size_t i = 0; i < NBENCH; i++)
      known |= (size_t)(e - l) == strlen(benches[i].name) && !strncmp(l, benches[i].name, (size_t)(e - l));
    if (!known) {
      char name[40];
      size_t k = (size_t)(e - l) < sizeof name - 1 ? (size_t)(e - l) : sizeof name - 1;
      memcpy(name, l, k);
      name[k] = 0;
      printf("bench %s: FAILED no such benchmark\n", name);
      return 1;
    }
    l = *e ? e + 1 : e;
  }
  int failed = 0;
  for (size_t i = 0; i < NBENCH; i++) {
    if (!selected(benches[i].name)) continue;
    uint64_t iters = args.iters ? args.iters : benches[i].iters, ticks = 0;
    char why[160];
    if (args.sync) {
      printf("bench %s: ready\n", benches[i].name);
      wait_byte();
    }
    drain(); /* the console's interrupts are not part of the measurement */
    const char *r = benches[i].fn(iters, &ticks, why, sizeof why);
    if (r) {
      printf("bench %s: FAILED %s\n", benches[i].name, r);
      failed++;
    } else {
      uint64_t ns = ticks * 1000000000UL / si.timebase_hz / iters;
      printf("bench %s: %lu iters, %lu ns/op\n", benches[i].name, iters, ns);
    }
    if (args.sync) {
      printf("bench %s: done\n", benches[i].name);
      wait_byte();
    }
  }
  return failed;
}
