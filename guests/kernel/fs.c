/*
 * A tiny file store on the virtio-blk disk, in 4 KiB blocks. Block 0 is the directory
 * (magic, then 32 entries: name, size); file i owns the fixed extent of FILE_BLOCKS blocks
 * after it. A disk without the magic is formatted on first use. Writes go straight to the
 * disk (no cache), so pwrite of one aligned block is one virtio request, fsync one flush.
 */
#include "kernel.h"

#define BLOCK 4096
#define SECTORS_PER_BLOCK (BLOCK / 512)
#define MAX_FILES 32
#define MAX_FILE_BLOCKS 16
static const char MAGIC[8] = "SVKFS001";

struct dirent { char name[24]; uint32_t used, size; };
struct superblock { char magic[8]; uint32_t file_blocks, pad; struct dirent files[MAX_FILES]; };

static struct superblock sb __attribute__((aligned(4096)));
static uint8_t blockbuf[BLOCK] __attribute__((aligned(4096)));
static uint8_t sbbuf[BLOCK] __attribute__((aligned(4096)));
static int mounted;
uint64_t virtio_blk_capacity(void);

static int block_io(uint64_t block, void *buf, int write) {
  return virtio_blk_rw(block * SECTORS_PER_BLOCK, buf, BLOCK, write);
}

static int write_super(void) {
  memset(sbbuf, 0, BLOCK);
  memcpy(sbbuf, &sb, sizeof sb);
  return block_io(0, sbbuf, 1);
}

static int mount(void) {
  if (mounted) return 0;
  if (!virtio_blk_present()) return -1;
  if (block_io(0, sbbuf, 0) < 0) return -1;
  memcpy(&sb, sbbuf, sizeof sb);
  if (memcmp(sb.magic, MAGIC, sizeof MAGIC) != 0) {
    uint64_t blocks = virtio_blk_capacity() / SECTORS_PER_BLOCK;
    if (blocks < 2) return -1;
    memset(&sb, 0, sizeof sb);
    memcpy(sb.magic, MAGIC, sizeof MAGIC);
    sb.file_blocks = (uint32_t)((blocks - 1) / MAX_FILES);
    if (sb.file_blocks > MAX_FILE_BLOCKS) sb.file_blocks = MAX_FILE_BLOCKS;
    if (write_super() < 0 || virtio_blk_flush() < 0) return -1;
  }
  if (sb.file_blocks == 0 || sb.file_blocks > MAX_FILE_BLOCKS) return -1;
  mounted = 1;
  return 0;
}

int fs_open(const char *name, int create) {
  if (mount() < 0 || !name[0] || strlen(name) >= sizeof sb.files[0].name) return -1;
  int free_slot = -1;
  for (int i = 0; i < MAX_FILES; i++) {
    if (sb.files[i].used && !strcmp(sb.files[i].name, name)) return i;
    if (!sb.files[i].used && free_slot < 0) free_slot = i;
  }
  if (!create || free_slot < 0) return -1;
  struct dirent *d = &sb.files[free_slot];
  memset(d, 0, sizeof *d);
  memcpy(d->name, name, strlen(name));
  d->used = 1;
  return write_super() < 0 ? -1 : free_slot;
}

static uint64_t file_block(int slot, uint64_t off) { return 1 + (uint64_t)slot * sb.file_blocks + off / BLOCK; }

int64_t fs_pread(int slot, struct proc *p, uint64_t uva, size_t n, uint64_t off) {
  struct dirent *d = &sb.files[slot];
  if (off >= d->size) return 0;
  if (n > d->size - off) n = d->size - off;
  size_t done = 0;
  while (done < n) {
    uint64_t o = off + done, in = o % BLOCK;
    size_t chunk = BLOCK - in < n - done ? BLOCK - in : n - done;
    if (block_io(file_block(slot, o), blockbuf, 0) < 0 || copyout(p, uva + done, blockbuf + in, chunk) < 0) return -1;
    done += chunk;
  }
  return (int64_t)done;
}

int64_t fs_pwrite(int slot, struct proc *p, uint64_t uva, size_t n, uint64_t off) {
  struct dirent *d = &sb.files[slot];
  uint64_t max = (uint64_t)sb.file_blocks * BLOCK;
  if (off > max || n > max - off) return -1;
  size_t done = 0;
  while (done < n) {
    uint64_t o = off + done, in = o % BLOCK;
    size_t chunk = BLOCK - in < n - done ? BLOCK - in : n - done;
    /* a partial block keeps the rest of what is on the disk */
    if (chunk < BLOCK && block_io(file_block(slot, o), blockbuf, 0) < 0) return -1;
    if (copyin(p, blockbuf + in, uva + done, chunk) < 0) return -1;
    if (block_io(file_block(slot, o), blockbuf, 1) < 0) return -1;
    done += chunk;
  }
  if (off + n > d->size) {
    d->size = (uint32_t)(off + n);
    if (write_super() < 0) return -1;
  }
  return (int64_t)done;
}

int fs_fsync(void) { return virtio_blk_flush(); }
