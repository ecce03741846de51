/*
 * virtio-blk over modern virtio-mmio (virtio 1.2 §4.2.2 registers, §3.1.1 initialisation,
 * §2.7 split virtqueues, §5.2 block device). One queue of 8 descriptors, one request in
 * flight; the caller sleeps until the used ring moves (interrupt), or polls before the first
 * process runs. Legacy (version 1) transports are counted but not driven: QEMU 7.2 gives
 * modern ones with -global virtio-mmio.force-legacy=false.
 */
#include "kernel.h"

#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_QUEUE_DESC 0x080
#define R_QUEUE_DRIVER 0x090
#define R_QUEUE_DEVICE 0x0a0
#define R_CONFIG 0x100
#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_FAILED 128
#define F_FLUSH 9
#define F_VERSION_1 32
#define QSIZE 8
#define DESC_NEXT 1
#define DESC_WRITE 2

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct avail { uint16_t flags, idx, ring[QSIZE], used_event; };
struct used_elem { uint32_t id, len; };
struct used { uint16_t flags, idx; struct used_elem ring[QSIZE]; uint16_t avail_event; };
struct req_hdr { uint32_t type, reserved; uint64_t sector; };

static volatile uint8_t *base;
static uint32_t irq;
static struct desc *descs;
static struct avail *avail;
static volatile struct used *used;
static uint16_t last_used;
static struct req_hdr hdr;
static volatile uint8_t status_byte;
static int busy, has_flush;
static uint64_t capacity;

static uint32_t r32(uint32_t off) { return *(volatile uint32_t *)(base + off); }
static void w32(uint32_t off, uint32_t v) { *(volatile uint32_t *)(base + off) = v; }
static void w64(uint32_t off, uint64_t v) { w32(off, (uint32_t)v); w32(off + 4, (uint32_t)(v >> 32)); }

int virtio_blk_present(void) { return base != NULL; }

static int fail(const char *why) {
  kprintf("kernel: virtio-blk at 0x%lx: %s\n", (uint64_t)base, why);
  w32(R_STATUS, r32(R_STATUS) | S_FAILED);
  base = NULL;
  return -1;
}

static struct mmio_dev *blk;
static int blk_version;

/* Counts the slots with a device behind them (boot.nvirtio becomes that count) and finds
   the first virtio-blk; nothing is written yet. */
void virtio_probe(void) {
  int present = 0;
  for (int i = 0; i < boot.nvirtio; i++) {
    volatile uint8_t *b = (volatile uint8_t *)boot.virtio[i].base;
    uint32_t magic = *(volatile uint32_t *)(b + R_MAGIC), id = *(volatile uint32_t *)(b + R_DEVICE_ID);
    if (magic != 0x74726976 || id == 0) continue;
    present++;
    if (id == 2 && !blk) {
      blk = &boot.virtio[i];
      blk_version = (int)*(volatile uint32_t *)(b + R_VERSION);
    }
  }
  boot.nvirtio = present;
}

/* Drives the virtio-blk virtio_probe found. */
int virtio_blk_init(void) {
  if (!blk) return -1;
  base = (volatile uint8_t *)blk->base;
  irq = blk->irq;
  if (blk_version != 2) return fail("legacy virtio-mmio (version 1), not driven");
  w32(R_STATUS, 0);
  w32(R_STATUS, S_ACK);
  w32(R_STATUS, S_ACK | S_DRIVER);
  w32(R_DEV_FEATURES_SEL, 0);
  uint64_t f = r32(R_DEV_FEATURES);
  w32(R_DEV_FEATURES_SEL, 1);
  f |= (uint64_t)r32(R_DEV_FEATURES) << 32;
  if (!(f & (1UL << F_VERSION_1))) return fail("VIRTIO_F_VERSION_1 not offered");
  uint64_t want = (1UL << F_VERSION_1) | (f & (1UL << F_FLUSH));
  has_flush = (want >> F_FLUSH) & 1;
  w32(R_DRV_FEATURES_SEL, 0);
  w32(R_DRV_FEATURES, (uint32_t)want);
  w32(R_DRV_FEATURES_SEL, 1);
  w32(R_DRV_FEATURES, (uint32_t)(want >> 32));
  w32(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
  if (!(r32(R_STATUS) & S_FEATURES_OK)) return fail("features not accepted");
  w32(R_QUEUE_SEL, 0);
  if (r32(R_QUEUE_READY)) return fail("queue 0 already ready");
  if (r32(R_QUEUE_NUM_MAX) < QSIZE) return fail("queue 0 smaller than 8");
  uint8_t *ring = frame_alloc();
  if (!ring) return fail("no memory for the queue");
  descs = (struct desc *)ring;
  avail = (struct avail *)(ring + 16 * QSIZE);
  used = (volatile struct used *)(ring + 2048);
  w32(R_QUEUE_NUM, QSIZE);
  w64(R_QUEUE_DESC, (uint64_t)descs);
  w64(R_QUEUE_DRIVER, (uint64_t)avail);
  w64(R_QUEUE_DEVICE, (uint64_t)used);
  w32(R_QUEUE_READY, 1);
  capacity = (uint64_t)r32(R_CONFIG) | ((uint64_t)r32(R_CONFIG + 4) << 32);
  w32(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
  plic_enable(irq);
  return 0;
}

uint64_t virtio_blk_capacity(void) { return capacity; }

void virtio_blk_intr(void) {
  if (!base) return;
  uint32_t st = r32(R_INT_STATUS);
  w32(R_INT_ACK, st);
  wakeup(&last_used);
}

/* One request: type 0 read, 1 write, 4 flush; buf NULL for a flush. */
static int request(uint32_t type, uint64_t sector, void *buf, size_t len) {
  if (!base) return -1;
  while (busy) sleep_on(&busy);
  busy = 1;
  hdr.type = type;
  hdr.reserved = 0;
  hdr.sector = sector;
  status_byte = 0xff;
  descs[0] = (struct desc){(uint64_t)&hdr, sizeof hdr, DESC_NEXT, 1};
  int n = 1;
  if (buf) {
    descs[1] = (struct desc){(uint64_t)buf, (uint32_t)len, (uint16_t)(DESC_NEXT | (type == 0 ? DESC_WRITE : 0)), 2};
    n = 2;
  }
  descs[n - 1].next = (uint16_t)n;
  descs[n] = (struct desc){(uint64_t)&status_byte, 1, DESC_WRITE, 0};
  avail->ring[avail->idx % QSIZE] = 0;
  __sync_synchronize(); /* the descriptors before the index (§2.7.13) */
  avail->idx++;
  __sync_synchronize();
  w32(R_QUEUE_NOTIFY, 0);
  while (used->idx == last_used) {
    if (myproc()) sleep_on(&last_used);
    else if (r32(R_INT_STATUS)) virtio_blk_intr(); /* before the first process: poll */
  }
  __sync_synchronize();
  last_used++;
  busy = 0;
  wakeup(&busy);
  return status_byte == 0 ? 0 : -1;
}

int virtio_blk_rw(uint64_t sector, void *buf, size_t len, int write) {
  if (!base || (len & 511) || sector + len / 512 > capacity) return -1;
  return request(write ? 1 : 0, sector, buf, len);
}

int virtio_blk_flush(void) { return has_flush ? request(4, 0, NULL, 0) : 0; }

void virtio_blk_dump(void) {
  if (base && (busy || used->idx != last_used))
    kprintf("kernel: virtio-blk request in flight: used.idx %u, seen %u, InterruptStatus 0x%x\n", used->idx, last_used,
            r32(R_INT_STATUS));
}
