/*
 * Physical frames: a bump pointer over the free RAM and a list of freed frames, with a
 * reference count per frame (copy-on-write shares a frame between address spaces).
 * Frames are handed out as they are needed, never all listed up front: on Splitvisor the
 * first touch of a page is an exit to mmu, so a kernel that wrote to every frame at boot
 * would pay for all of RAM.
 */
#include "kernel.h"

static uint64_t lo, hi, bump;
static uint64_t free_list; /* physical address of the first freed frame, 0: none */
static uint64_t nfree_listed;
static uint16_t *refs;     /* one per frame of [lo, hi) */

static uint64_t idx(uint64_t pa) {
  if (pa < lo || pa >= hi || (pa & (PAGE_SIZE - 1))) panic("frame 0x%lx outside [0x%lx, 0x%lx)", pa, lo, hi);
  return (pa - lo) / PAGE_SIZE;
}

void mem_init(uint64_t free_lo, uint64_t free_hi) {
  uint64_t n = (free_hi - free_lo) / PAGE_SIZE;
  refs = (uint16_t *)free_lo;
  memset(refs, 0, PAGE_ROUND_UP(n * sizeof *refs));
  lo = PAGE_ROUND_UP(free_lo + n * sizeof *refs);
  hi = PAGE_ROUND_DOWN(free_hi);
  bump = lo;
}

void *frame_alloc(void) {
  uint64_t pa;
  if (free_list) {
    pa = free_list;
    free_list = *(uint64_t *)pa;
    nfree_listed--;
  } else if (bump < hi) {
    pa = bump;
    bump += PAGE_SIZE;
  } else {
    return NULL;
  }
  refs[idx(pa)] = 1;
  memset((void *)pa, 0, PAGE_SIZE);
  return (void *)pa;
}

void frame_incref(uint64_t pa) {
  uint64_t i = idx(pa);
  if (refs[i] == 0 || refs[i] == 0xffff) panic("frame 0x%lx: incref at %d", pa, refs[i]);
  refs[i]++;
}

void frame_decref(uint64_t pa) {
  uint64_t i = idx(pa);
  if (refs[i] == 0) panic("frame 0x%lx freed twice", pa);
  if (--refs[i] == 0) {
    *(uint64_t *)pa = free_list;
    free_list = pa;
    nfree_listed++;
  }
}

int frame_refs(uint64_t pa) { return refs[idx(pa)]; }

uint64_t frames_free(void) { return (hi - bump) / PAGE_SIZE + nfree_listed; }
