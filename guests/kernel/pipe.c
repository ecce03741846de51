/* Open files (console, pipe ends, file-store files) and pipes: a 512-byte ring each. */
#include "kernel.h"

#define PIPE_SIZE 512
struct pipe {
  uint8_t data[PIPE_SIZE];
  uint32_t nread, nwrite; /* free-running */
  int readers, writers;
};

static struct file files[4 * NPROC];

struct file *file_alloc(enum ftype type) {
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (files[i].refs == 0) {
      memset(&files[i], 0, sizeof files[i]);
      files[i].type = type;
      files[i].refs = 1;
      return &files[i];
    }
  return NULL;
}

void file_dup(struct file *f) {
  f->refs++;
  if (f->type == F_PIPE) {
    if (f->writable) f->pipe->writers++;
    else f->pipe->readers++;
  }
}

void file_close(struct file *f) {
  if (f->refs <= 0) panic("file closed twice");
  f->refs--;
  if (f->type == F_PIPE) pipe_close(f->pipe, f->writable);
}

int pipe_open(struct file **rd, struct file **wr) {
  struct pipe *pp = frame_alloc();
  if (!pp) return -1;
  *rd = file_alloc(F_PIPE);
  *wr = *rd ? file_alloc(F_PIPE) : NULL;
  if (!*wr) {
    if (*rd) (*rd)->refs = 0;
    frame_decref((uint64_t)pp);
    return -1;
  }
  pp->readers = pp->writers = 1;
  (*rd)->pipe = (*wr)->pipe = pp;
  (*wr)->writable = 1;
  return 0;
}

void pipe_close(struct pipe *pp, int writable) {
  if (writable) pp->writers--;
  else pp->readers--;
  wakeup(pp);
  if (pp->readers == 0 && pp->writers == 0) frame_decref((uint64_t)pp);
}

int64_t pipe_write(struct pipe *pp, struct proc *p, uint64_t uva, size_t n) {
  size_t done = 0;
  while (done < n) {
    if (pp->readers == 0 || p->killed) return -1;
    if (pp->nwrite - pp->nread == PIPE_SIZE) {
      wakeup(pp);
      sleep_on(pp);
      continue;
    }
    uint8_t c;
    if (copyin(p, &c, uva + done, 1) < 0) return -1;
    pp->data[pp->nwrite++ % PIPE_SIZE] = c;
    done++;
  }
  wakeup(pp);
  return (int64_t)done;
}

int64_t pipe_read(struct pipe *pp, struct proc *p, uint64_t uva, size_t n) {
  while (pp->nread == pp->nwrite && pp->writers > 0) {
    if (p->killed) return -1;
    sleep_on(pp);
  }
  size_t done = 0;
  while (done < n && pp->nread != pp->nwrite) {
    uint8_t c = pp->data[pp->nread++ % PIPE_SIZE];
    if (copyout(p, uva + done, &c, 1) < 0) return -1;
    done++;
  }
  wakeup(pp);
  return (int64_t)done;
}
