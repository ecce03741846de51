/*
 * The self-tests: each prints `selftest <name>: ok` or `selftest <name>: FAILED <reason>`,
 * then a summary `selftest: <p> passed, <f> failed`. Only init prints, so the output is the
 * same whatever order the scheduler runs the children in.
 */
#include "ulib.h"

#define PAGE 4096
typedef const char *(*test_fn)(char *why, size_t n);

/* Copy-on-write: after fork, each side sees its own writes only, and the child's first write
   to a shared page copies it. */
static const char *t_cow(char *why, size_t n) {
  enum { PAGES = 4 };
  uint8_t *buf = (uint8_t *)sbrk(PAGES * PAGE);
  for (int i = 0; i < PAGES * PAGE; i++) buf[i] = (uint8_t)(i * 7);
  int fds[2];
  if (pipe(fds) < 0) return "pipe failed";
  int pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(fds[1]);
    for (int i = 0; i < PAGES * PAGE; i++)
      if (buf[i] != (uint8_t)(i * 7)) exit(2);
    for (int i = 0; i < PAGES * PAGE; i++) buf[i] = (uint8_t)(i * 3 + 1);
    char c;
    read(fds[0], &c, 1); /* the parent has written its own values by now */
    for (int i = 0; i < PAGES * PAGE; i++)
      if (buf[i] != (uint8_t)(i * 3 + 1)) exit(3);
    exit(0);
  }
  close(fds[0]);
  for (int i = 0; i < PAGES * PAGE; i += 2) buf[i] = 0x5a;
  write(fds[1], "x", 1);
  close(fds[1]);
  int status = -1;
  if (wait(&status) != pid) return "wait did not return the child";
  for (int i = 0; i < PAGES * PAGE; i++) {
    uint8_t want = i % 2 == 0 ? 0x5a : (uint8_t)(i * 7);
    if (buf[i] != want) {
      sformat(why, n, "parent byte %d is %d, expected %d", i, buf[i], want);
      return why;
    }
  }
  sbrk(-PAGES * PAGE);
  if (status != 0) {
    sformat(why, n, "child saw the wrong bytes (status %d)", status);
    return why;
  }
  return NULL;
}

/* Demand zero: fresh heap pages read as zero; sbrk back gives the frames back. */
static const char *t_demand_zero(char *why, size_t n) {
  struct sysinfo a, b;
  sysinfo(&a);
  uint8_t *p = (uint8_t *)sbrk(16 * PAGE);
  for (int i = 0; i < 16 * PAGE; i += 512)
    if (p[i] != 0) return "a fresh page is not zero";
  for (int i = 0; i < 16 * PAGE; i += 512) p[i] = 1;
  sbrk(-16 * PAGE);
  sysinfo(&b);
  if (a.frames_free != b.frames_free) {
    sformat(why, n, "%lu frames free before, %lu after", a.frames_free, b.frames_free);
    return why;
  }
  return NULL;
}

/* 100 processes alive at once, each blocked on a pipe until init closes it. */
static const char *t_procs100(char *why, size_t n) {
  int fds[2];
  if (pipe(fds) < 0) return "pipe failed";
  int pids[100];
  for (int i = 0; i < 100; i++) {
    pids[i] = fork();
    if (pids[i] < 0) {
      sformat(why, n, "fork %d failed", i);
      return why;
    }
    if (pids[i] == 0) {
      close(fds[1]);
      char c;
      if (read(fds[0], &c, 1) != 0) exit(200);
      exit(i);
    }
  }
  struct sysinfo si;
  sysinfo(&si);
  close(fds[0]);
  close(fds[1]);
  int sum = 0, reaped = 0, status;
  while (wait(&status) > 0) {
    sum += status;
    reaped++;
  }
  if (si.nproc < 101) {
    sformat(why, n, "only %lu processes alive at once", si.nproc);
    return why;
  }
  if (reaped != 100 || sum != 99 * 100 / 2) {
    sformat(why, n, "reaped %d, statuses sum %d", reaped, sum);
    return why;
  }
  return NULL;
}

/* A bounded fork storm: children fork grandchildren until the process table is full (fork
   must fail cleanly), the children exit first (the grandchildren are orphaned to init), then
   all are reaped and every frame comes back. Each child reports before the next fork, so the
   storm (and the pids after it) is the same on every machine. */
static const char *t_fork_storm(char *why, size_t n) {
  int fds[2], ready[2], status;
  struct sysinfo before, after;
  sysinfo(&before);
  if (pipe(fds) < 0 || pipe(ready) < 0) return "pipe failed";
  int children = 0, refused = 0;
  for (int i = 0; i < 200; i++) {
    int pid = fork();
    if (pid < 0) {
      refused = 1;
      break;
    }
    if (pid == 0) {
      int g = fork();
      if (g == 0) {
        close(fds[1]);
        close(ready[0]);
        close(ready[1]);
        char c;
        read(fds[0], &c, 1);
        exit(4);
      }
      close(fds[1]);
      close(ready[0]);
      write(ready[1], g > 0 ? "g" : "-", 1);
      close(ready[1]);
      char c;
      read(fds[0], &c, 1);
      exit(g > 0 ? 1 : 3);
    }
    children++;
    char c;
    if (read(ready[0], &c, 1) != 1) return "a child did not report";
  }
  close(fds[0]);
  close(fds[1]);
  close(ready[0]);
  close(ready[1]);
  int reaped = 0;
  while (wait(&status) > 0) reaped++;
  if (!refused) return "200 forks, none refused: the process table has no bound";
  if (reaped < children) {
    sformat(why, n, "%d children, %d reaped", children, reaped);
    return why;
  }
  sysinfo(&after);
  if (after.frames_free != before.frames_free || after.nproc != 1) {
    sformat(why, n, "frames free %lu -> %lu, %lu processes left", before.frames_free, after.frames_free, after.nproc);
    return why;
  }
  int pid = fork();
  if (pid == 0) exit(5);
  if (pid < 0 || wait(&status) != pid || status != 5) return "fork after the storm failed";
  return NULL;
}

/* The file store through virtio-blk: whole and partial blocks written, flushed, read back. */
static const char *t_file(char *why, size_t n) {
  static uint8_t out[3 * PAGE + 100], in[sizeof out];
  int fd = open("selftest.dat", 1);
  if (fd < 0) return "open failed (no virtio-blk disk?)";
  for (size_t i = 0; i < sizeof out; i++) out[i] = (uint8_t)(i * 13 + 5);
  if (pwrite(fd, out, PAGE, 0) != PAGE) return "pwrite of a block failed";
  if (pwrite(fd, out + PAGE, sizeof out - PAGE, PAGE) != (int64_t)(sizeof out - PAGE)) return "pwrite of 2 blocks + 100 bytes failed";
  if (pwrite(fd, "patch", 5, 5000) != 5) return "partial pwrite failed";
  memcpy(out + 5000, "patch", 5);
  if (fsync(fd) != 0) return "fsync failed";
  close(fd);
  fd = open("selftest.dat", 0);
  if (fd < 0) return "reopen failed";
  int64_t got = pread(fd, in, sizeof in + 50, 0);
  close(fd);
  if (got != (int64_t)sizeof out) {
    sformat(why, n, "read back %ld bytes, expected %lu", got, (uint64_t)sizeof out);
    return why;
  }
  for (size_t i = 0; i < sizeof out; i++)
    if (in[i] != out[i]) {
      sformat(why, n, "byte %lu read back as %d, written %d", (uint64_t)i, in[i], out[i]);
      return why;
    }
  return NULL;
}

/* Bad accesses kill the process with a message (from the kernel) and nothing else: kernel
   memory read from user mode, a store to a page made read-only, a jump to data. */
static const char *t_bad_access(char *why, size_t n) {
  static uint8_t page[PAGE] __attribute__((aligned(PAGE)));
  for (int k = 0; k < 3; k++) {
    int pid = fork();
    if (pid == 0) {
      if (k == 0) exit(*(volatile uint8_t *)0x80200000UL); /* the kernel's first byte */
      if (k == 1) {
        page[0] = 1;
        if (mprotect(page, 0) != 1) exit(1);
        page[8] = 2;
        exit(2);
      }
      page[0] = 1;
      ((void (*)(void))page)();
      exit(3);
    }
    int status = -1;
    if (pid < 0 || wait(&status) != pid) return "fork or wait failed";
    if (status != STATUS_FAULT) {
      sformat(why, n, "case %d: status %d, expected %d", k, status, STATUS_FAULT);
      return why;
    }
  }
  return NULL;
}

/* kill() of a process that never blocks: it is preempted, killed, reaped. */
static const char *t_kill(char *why, size_t n) {
  int pid = fork();
  if (pid == 0)
    for (;;) __asm__ volatile("");
  yield();
  if (kill(pid) != 0) return "kill failed";
  int status = -1;
  if (wait(&status) != pid || status != STATUS_KILLED) {
    sformat(why, n, "status %d, expected %d", status, STATUS_KILLED);
    return why;
  }
  if (kill(pid) == 0) return "a reaped pid could be killed";
  return NULL;
}

/* exec of a program from the image, its argument as its exit status; a missing one fails. */
static const char *t_exec(char *why, size_t n) {
  int pid = fork();
  if (pid == 0) {
    exec("true", 42);
    exit(99);
  }
  int status = -1;
  if (wait(&status) != pid || status != 42) {
    sformat(why, n, "exec'd true exited %d, expected 42", status);
    return why;
  }
  if (exec("no-such-program", 0) != -1) return "exec of a missing program did not fail";
  return NULL;
}

/* A pipe carries more than its 512-byte ring, in order, and ends with EOF. */
static const char *t_pipe(char *why, size_t n) {
  int fds[2];
  if (pipe(fds) < 0) return "pipe failed";
  int pid = fork();
  if (pid == 0) {
    close(fds[0]);
    static uint8_t msg[2000];
    for (int i = 0; i < 2000; i++) msg[i] = (uint8_t)(i % 251);
    exit(write(fds[1], msg, sizeof msg) == (int64_t)sizeof msg ? 0 : 1);
  }
  close(fds[1]);
  static uint8_t got[2100];
  int64_t total = 0, r;
  while ((r = read(fds[0], got + total, sizeof got - (uint64_t)total)) > 0) total += r;
  close(fds[0]);
  int status = -1;
  wait(&status);
  if (total != 2000 || status != 0) {
    sformat(why, n, "read %ld bytes, writer status %d", total, status);
    return why;
  }
  for (int i = 0; i < 2000; i++)
    if (got[i] != (uint8_t)(i % 251)) return "bytes out of order";
  return NULL;
}

/* ebreak goes to the kernel and back, a0 incremented there. */
static const char *t_ebreak(char *why, size_t n) {
  register uint64_t a0 __asm__("a0") = 41;
  __asm__ volatile("ebreak" : "+r"(a0));
  if (a0 != 42) return "ebreak did not come back with a0 + 1";
  return NULL;
}

static const struct { const char *name; test_fn fn; } tests[] = {
  {"cow", t_cow}, {"demand_zero", t_demand_zero}, {"procs100", t_procs100}, {"fork_storm", t_fork_storm},
  {"file", t_file}, {"bad_access", t_bad_access}, {"kill", t_kill}, {"exec", t_exec}, {"pipe", t_pipe},
  {"ebreak", t_ebreak},
};

int run_selftests(void) {
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    char why[160];
    const char *r = tests[i].fn(why, sizeof why);
    if (r) {
      printf("selftest %s: FAILED %s\n", tests[i].name, r);
      failed++;
    } else {
      printf("selftest %s: ok\n", tests[i].name);
      passed++;
    }
  }
  printf("selftest: %d passed, %d failed\n", passed, failed);
  return failed;
}
