/*
 * Time: `time` at the DTB's timebase-frequency; one timer (SBI set_timer, or stimecmp with
 * Sstc, through pv->set_timer) serves the scheduler's 10 ms quantum, sleeping processes
 * (timer_sleep, and the timer_irq benchmark's deadline of "now") and the watchdog.
 */
#include "kernel.h"

uint64_t timer_irqs;
extern int need_resched;
static uint64_t quantum, next_preempt, watchdog_at;
static uint64_t wake_at = UINT64_MAX; /* the earliest sleeper's deadline */
static uint64_t sleeper_deadline[NPROC];
static struct proc *sleepers[NPROC];
static int nsleepers;

uint64_t time_now(void) { return pv->csr_read(PV_TIME); }

static void program(void) {
  uint64_t next = next_preempt;
  if (wake_at < next) next = wake_at;
  if (watchdog_at && watchdog_at < next) next = watchdog_at;
  pv->set_timer(next);
}

void timer_init(void) {
  quantum = boot.timebase_hz / 100;
  next_preempt = time_now() + quantum;
  if (kargs.watchdog_s) watchdog_at = time_now() + kargs.watchdog_s * boot.timebase_hz;
  program();
}

void timer_intr(void) {
  uint64_t now = time_now();
  timer_irqs++;
  if (watchdog_at && now >= watchdog_at) {
    proc_dump();
    virtio_blk_dump();
    panic_code(3, "watchdog: the run did not finish within %lu s", kargs.watchdog_s);
  }
  if (now >= wake_at) {
    wake_at = UINT64_MAX;
    for (int i = 0; i < nsleepers;) {
      if (sleeper_deadline[i] <= now) {
        wakeup(&sleeper_deadline[i]);
        sleepers[i] = sleepers[nsleepers - 1];
        sleeper_deadline[i] = sleeper_deadline[nsleepers - 1];
        nsleepers--;
        /* the moved entry's process sleeps on its old slot's address: wake it to re-check */
        if (i < nsleepers) wakeup(&sleeper_deadline[nsleepers]);
        continue;
      }
      if (sleeper_deadline[i] < wake_at) wake_at = sleeper_deadline[i];
      i++;
    }
  }
  if (now >= next_preempt) {
    need_resched = 1;
    next_preempt = now + quantum;
  }
  program();
}

/* Sleep until `time` reaches `deadline` (now or past: the next timer interrupt). */
static void sleep_until(uint64_t deadline) {
  struct proc *p = myproc();
  while (!p->killed) {
    int slot = -1;
    for (int i = 0; i < nsleepers; i++)
      if (sleepers[i] == p) slot = i;
    if (slot < 0) {
      if (nsleepers == NPROC) panic("timer: sleeper table full");
      slot = nsleepers++;
      sleepers[slot] = p;
      sleeper_deadline[slot] = deadline;
      if (deadline < wake_at) {
        wake_at = deadline;
        program();
      }
    }
    sleep_on(&sleeper_deadline[slot]);
    int still = 0;
    for (int i = 0; i < nsleepers; i++) still |= sleepers[i] == p;
    if (!still) return;
  }
}

void timer_wait_tick(void) { sleep_until(time_now()); }

void timer_sleep(uint64_t ticks) { sleep_until(time_now() + ticks); }
