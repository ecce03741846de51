// What each committed guest image (guests/<name>/<name>.elf) prints and how it ends.
//
// One source of truth for every test that boots these images: qemu-guests.spec.ts
// checks them against QEMU (`qemu-system-riscv64 -M virt -bios none -kernel <elf>`),
// and the Splitvisor tests boot the same images and must produce the same bytes.
// The strings are exact console bytes: "\r\n" where the guest writes CR LF, and no
// translation of input ("\n" typed into echo comes back as "\n").
//
// Exit status: the guests power off through the sifive test device at 0x100000.
// Writing 0x5555 (pass) makes QEMU exit with status 0; writing (code << 16) | 0x3333
// (fail) makes it exit with status `code`. Observed on QEMU 7.2 (Debian 12).

/** First line of guests/hello. */
export const HELLO_BANNER = 'Hello from Splitvisor: a RISC-V guest across four processes\r\n';

/** Second line of guests/hello: the hart id it found in a0, as one digit. */
export const helloGoodbye = (hartid: number): string => `hart ${hartid} says goodbye\r\n`;

/** Everything guests/hello prints when booted on hart 0; then it powers off with pass. */
export const HELLO_CONSOLE = HELLO_BANNER + helloGoodbye(0);

/** guests/echo prints this, then echoes every byte it reads from the UART. */
export const ECHO_READY = 'echo ready\r\n';

/** guests/echo prints this after echoing a 'q', then powers off with pass. */
export const ECHO_BYE = '\r\nbye\r\n';

/** Input for the echo pass case: 'q' ends it. */
export const ECHO_INPUT = 'hi\nq';

/** guests/echo's console for ECHO_INPUT: every byte echoed (the 'q' too), then bye. */
export const ECHO_CONSOLE = ECHO_READY + ECHO_INPUT + ECHO_BYE;

/** Input for the echo fail case: 'x' is echoed, then the guest fails with code 1. */
export const ECHO_FAIL_INPUT = 'abx';

/** guests/echo's console for ECHO_FAIL_INPUT (no bye line). */
export const ECHO_FAIL_CONSOLE = ECHO_READY + ECHO_FAIL_INPUT;

/** Exit status of the echo fail case: (1 << 16) | 0x3333 written to the test device. */
export const ECHO_FAIL_EXIT_CODE = 1;

/** guests/fault prints this before its load from FAULT_ADDRESS. */
export const FAULT_TOUCH = 'touching unmapped\r\n';

/**
 * The guest-physical address guests/fault loads from: a hole in QEMU virt's map
 * between the goldfish RTC (0x101000, 4 KiB) and the CLINT (0x2000000).
 */
export const FAULT_ADDRESS = 0x200000n;

/** mcause of a load access fault (privileged spec, table "mcause values"). */
export const FAULT_CAUSE = 5n;

/** Formats mtval as guests/fault prints it: "0x" and 16 lower-case hex digits. */
export const faultMtval = (address: bigint): string => `0x${address.toString(16).padStart(16, '0')}`;

/** Everything guests/fault prints: the trap report; then it powers off with pass. */
export const FAULT_CONSOLE = FAULT_TOUCH + `trap cause=${FAULT_CAUSE}\r\n` + `mtval=${faultMtval(FAULT_ADDRESS)}\r\n`;

/** Input for guests/irq: each byte arrives through the UART's receive interrupt. */
export const IRQ_INPUT = 'hiq';

/** guests/irq: three CLINT timer interrupts, then one "got" line per byte received
 *  through the PLIC; 'q' ends it with pass. */
export const IRQ_CONSOLE = 'irq guest\r\n' + 'tick 1\r\ntick 2\r\ntick 3\r\n' + 'waiting for input\r\n' + 'got h\r\ngot i\r\ngot q\r\n' + 'bye\r\n';

/** One line of guests/posted's output, numbered 00..03. */
export const postedLine = (n: number): string => `${String(n).padStart(2, '0')} the quick brown fox jumps over the lazy dog 0123456789 ABCDEF\r\n`;

/** Everything guests/posted prints when its order checks pass (the loopback bytes and the
 *  divisor never reach the console); then it powers off with pass. */
export const POSTED_CONSOLE = Array.from({ length: 4 }, (_, i) => postedLine(i)).join('') + 'posted: ok\r\n';

/** Guest RAM base on the virt machine: every image is linked and loaded here. */
export const GUEST_ENTRY = 0x80000000n;

export interface GuestCase {
  /** Test name. */
  readonly name: string;
  /** ELF image, relative to the repository root. */
  readonly elf: string;
  /** Flat image (objcopy -O binary) of the same program, loaded at GUEST_ENTRY. */
  readonly bin: string;
  /** Bytes written to the guest's console (UART0) after boot; '' for none. */
  readonly input: string;
  /** Exact console output. */
  readonly console: string;
  /** QEMU's exit status after the guest powers off. */
  readonly exitCode: number;
}

const image = (guest: string) => ({
  elf: `guests/${guest}/${guest}.elf`,
  bin: `guests/${guest}/${guest}.bin`,
});

/** Every case, for tests that loop over the guests. */
export const GUEST_CASES: readonly GuestCase[] = [
  { name: 'hello', ...image('hello'), input: '', console: HELLO_CONSOLE, exitCode: 0 },
  { name: 'echo (q: pass)', ...image('echo'), input: ECHO_INPUT, console: ECHO_CONSOLE, exitCode: 0 },
  {
    name: 'echo (x: fail 1)',
    ...image('echo'),
    input: ECHO_FAIL_INPUT,
    console: ECHO_FAIL_CONSOLE,
    exitCode: ECHO_FAIL_EXIT_CODE,
  },
  { name: 'fault', ...image('fault'), input: '', console: FAULT_CONSOLE, exitCode: 0 },
  { name: 'irq', ...image('irq'), input: IRQ_INPUT, console: IRQ_CONSOLE, exitCode: 0 },
  { name: 'posted', ...image('posted'), input: '', console: POSTED_CONSOLE, exitCode: 0 },
];

/** QEMU arguments for guests/virtio-hostile: a virtio-rng device in the slot at 0x10008000
 *  (QEMU's first -device), and virtio-mmio version 2. QEMU 7.2's virt machine gives
 *  virtio-mmio version 1 (legacy) unless force-legacy is off; our transport is version 2
 *  only (virtio 1.2 §4.2.2), so the guest would stop at its version check. */
export const VIRTIO_HOSTILE_QEMU_ARGS: readonly string[] = ['-global', 'virtio-mmio.force-legacy=false', '-device', 'virtio-rng-device'];

/** One line guests/virtio-hostile prints differently on QEMU 7.2, and why. */
export interface QemuDifference {
  readonly ours: string;
  readonly qemu: string;
  readonly why: string;
}

const HOSTILE_NEEDS_RESET = '0x4f'; // ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK | DEVICE_NEEDS_RESET
const HOSTILE_RUNNING = '0x0f'; // the same, without DEVICE_NEEDS_RESET

/** Everything guests/virtio-hostile prints on Splitvisor (`rng: true`); then it powers off
 *  with pass. Each hostile case prints Status after polling up to 1 s for DEVICE_NEEDS_RESET;
 *  every case ends in a reset, and the device must answer the honest request after all of them. */
export const VIRTIO_HOSTILE_CONSOLE =
  'virtio-hostile: virtio-rng at 0x10008000\r\n' +
  'magic=0x74726976 version=2 device=4\r\n' +
  'features VERSION_1 only, FEATURES_OK read back: status=0x0b\r\n' +
  'ok: 16\r\n' +
  `(a) desc 0 chained to itself: status=${HOSTILE_NEEDS_RESET}\r\n` +
  `(b) buffer at 0x400000000000, outside RAM: status=${HOSTILE_NEEDS_RESET}\r\n` +
  `(c) avail.idx 100 on a queue of 8: status=${HOSTILE_NEEDS_RESET}\r\n` +
  `(d) QueueNum 6: QueueReady=0 status=${HOSTILE_RUNNING}\r\n` +
  `(e) notify of queue 3, never set up: status=${HOSTILE_RUNNING}\r\n` +
  'ok: 16\r\n' +
  'virtio-hostile: done\r\n';

/**
 * Where QEMU 7.2 (Debian 12) answers guests/virtio-hostile differently, found by running it
 * and explained from QEMU's hw/virtio/virtio.c and hw/virtio/virtio-mmio.c. Both are QEMU
 * being lenient, not Splitvisor being wrong; every other line must be the same bytes.
 */
export const VIRTIO_HOSTILE_QEMU_DIFFERENCES: readonly QemuDifference[] = [
  {
    ours: `(b) buffer at 0x400000000000, outside RAM: status=${HOSTILE_NEEDS_RESET}\r\n`,
    qemu: `(b) buffer at 0x400000000000, outside RAM: status=${HOSTILE_RUNNING}\r\n`,
    why:
      'virtqueue_map_desc() calls virtio_error() only when dma_memory_map() returns NULL, and ' +
      "address_space_map() does not fail for an address that is not RAM: it maps QEMU's bounce " +
      'buffer, and the unmap writes it to the unassigned region, where it is dropped. So QEMU ' +
      'completes the request (used len 16) into nowhere. Splitvisor refuses DMA outside guest RAM ' +
      '(QueueError -> DEVICE_NEEDS_RESET), as virtio 1.2 §2.1.2 allows for an unusable buffer.',
  },
  {
    ours: `(d) QueueNum 6: QueueReady=0 status=${HOSTILE_RUNNING}\r\n`,
    qemu: `(d) QueueNum 6: QueueReady=1 status=${HOSTILE_RUNNING}\r\n`,
    why:
      'virtio-mmio.c passes QueueNum to virtio_queue_set_num(), which checks only 0 < num <= ' +
      'VIRTQUEUE_MAX_SIZE (packed rings may have any size), and QueueReady=1 just sets ' +
      "proxy->vqs[sel].enabled, read back as 1. A split queue's size must be a power of two " +
      '(virtio 1.2 §2.7); Splitvisor refuses QueueReady and it reads back 0.',
  },
];

/** What QEMU 7.2 prints for guests/virtio-hostile: ours with the documented differences. */
export const VIRTIO_HOSTILE_QEMU_CONSOLE = VIRTIO_HOSTILE_QEMU_DIFFERENCES.reduce((c, d) => {
  if (!c.includes(d.ours)) throw new Error(`VIRTIO_HOSTILE_QEMU_DIFFERENCES: ${JSON.stringify(d.ours)} is not a line of the console`);
  return c.replace(d.ours, d.qemu);
}, VIRTIO_HOSTILE_CONSOLE);

/** QEMU arguments for guests/virtio-irq: the same virtio-rng in slot 7 (PLIC source 8) as
 *  guests/virtio-hostile, virtio-mmio version 2. */
export const VIRTIO_IRQ_QEMU_ARGS: readonly string[] = VIRTIO_HOSTILE_QEMU_ARGS;

/** One round of guests/virtio-irq: the used-buffer interrupt its handler took (claimed
 *  source 8, InterruptStatus 0x1), used.idx and the used length after it, and the PLIC's
 *  pending bit for source 8 read after the complete: 0, the ACK dropped the line. */
export const virtioIrqRound = (used: number): string => `irq: source=8 status=0x1 used=${used} len=16\r\n` + 'line low after ACK: pending=0\r\n';

/** Everything guests/virtio-irq prints (Splitvisor with `rng: true`, and QEMU with
 *  VIRTIO_IRQ_QEMU_ARGS: the same bytes); then it powers off with pass. */
export const VIRTIO_IRQ_CONSOLE =
  'virtio-irq: virtio-rng at 0x10008000, PLIC source 8\r\n' +
  'magic=0x74726976 version=2 device=4\r\n' +
  virtioIrqRound(1) +
  virtioIrqRound(2) +
  virtioIrqRound(3) +
  'spurious interrupts: 0\r\n' +
  'virtio-irq: done\r\n';

/** guests/ticker's first line; then `tick <n>` every 50 ms of guest time, n from 1. */
export const TICKER_BOOT = 'ticker: boot\r\n';

/** guests/ticker's last line after a 'q' (then pass) and after an 'x' (then fail 1). */
export const TICKER_BYE = 'ticker: bye\r\n';
export const TICKER_FAIL = 'ticker: fail\r\n';

/** What stands for ticker's run of tick lines once normalised (normaliseTicks). */
export const TICKS = 'tick 1..N\r\n';

/**
 * guests/ticker reads its input once per tick, so how many ticks it prints before the 'q'
 * (or 'x') depends on when the byte reaches its UART: QEMU buffers stdin at once, and
 * Splitvisor's console input crosses the CLI, NATS and io-backend while the guest's clock
 * runs. The normalisation checks the run counts 1, 2, 3... by one and replaces it with
 * TICKS; a run that skips or repeats a number is left as it is, so it fails the comparison.
 */
export function normaliseTicks(console: string): string {
  return console.replace(/(?:tick \d+\r\n)+/g, (run) => {
    const ns = [...run.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
    return ns.every((n, i) => n === i + 1) ? TICKS : run;
  });
}

/** guests/idle prints this, then sleeps in WFI for ever. */
export const IDLE_CONSOLE = 'idle: up\r\n';

/** guests/bench's one line: the checksum of its work (the same work on any machine). */
export const BENCH_CONSOLE = 'bench checksum 0000f0f735dc3c42\r\n';

/** Where guests/memcheck reports (its STATUS block; see its source), and how much. */
export const MEMCHECK_STATUS_ADDR = 0x80002000;
export const MEMCHECK_STATUS_BYTES = 64;

/** guests/memcheck's STATUS words that do not depend on time: phase 2 (pattern written,
 *  being checked), no wrong word, and REGION_A's checksum (the sum of its pattern). The
 *  passes completed and the first-touch time count with the host's speed: compared only
 *  as "at least one pass" and not at all. */
export interface MemcheckReport {
  readonly phase: bigint;
  readonly wrongWords: bigint;
  readonly checksum: bigint;
  readonly passes: bigint;
}

/** The report in STATUS's bytes (little-endian words at +0 passes, +8 wrong, +48 phase, +56 sum). */
export function memcheckReport(status: Buffer): MemcheckReport {
  return { passes: status.readBigUInt64LE(0), wrongWords: status.readBigUInt64LE(8), phase: status.readBigUInt64LE(48), checksum: status.readBigUInt64LE(56) };
}

/** A comparison of the two consoles after a documented normalisation of each. */
export interface Normalisation {
  readonly why: string;
  readonly ours: (console: string) => string;
  readonly qemu: (console: string) => string;
}

/** One guest run on both machines with the same input; Splitvisor's console must be QEMU's. */
export interface ParityCase {
  readonly name: string;
  /** Its folder in guests/ (the image is guests/<guest>/<guest>.elf). */
  readonly guest: string;
  /** Bytes for the console, written when the machine starts. */
  readonly input: string;
  /** QEMU's console: the sanity check of the reference (after `normalise.qemu`, if any). */
  readonly console: string;
  /** How it ends: an exit status (both must power off with it), or 'never' (the guest
   *  sleeps for ever: both run until they printed `console` and stay quiet a while). */
  readonly exit: number | 'never';
  /** Devices on both: QEMU arguments, and the same as lines of Splitvisor's VM config. */
  readonly qemuArgs?: readonly string[];
  readonly vmConfig?: string;
  readonly normalise?: Normalisation;
  /** Either machine's deadline, when the default (30 s) is not enough. */
  readonly timeoutMs?: number;
}

const ticks: Normalisation = {
  why: 'the number of ticks before ticker reads its input depends on when the byte arrives (normaliseTicks)',
  ours: normaliseTicks,
  qemu: normaliseTicks,
};

const hostile: Normalisation = {
  why: "QEMU 7.2 answers two hostile cases leniently (VIRTIO_HOSTILE_QEMU_DIFFERENCES): those lines of QEMU's console are replaced by ours, never the other way round",
  ours: (c) => c,
  qemu: (c) => VIRTIO_HOSTILE_QEMU_DIFFERENCES.reduce((out, d) => out.replace(d.qemu, d.ours), c),
};

/**
 * Every guest in guests/, on QEMU and on Splitvisor. Not compared, and why:
 *  - ticker's 'r' (reset) and 'c' (crash): QEMU resets the machine in place (the guest
 *    boots again) and spins on the crash's fault for ever; Splitvisor hands both to dom0's
 *    on_reboot/on_crash policies (dom0-restart.spec.ts), a lifecycle QEMU does not have.
 *  - memcheck prints nothing; its report is in RAM and its timing words count with the
 *    host's speed: qemu-guests.spec.ts compares the words that do not (MemcheckReport).
 */
export const PARITY_CASES: readonly ParityCase[] = [
  ...GUEST_CASES.map((c) => ({ name: c.name, guest: c.elf.split('/')[1]!, input: c.input, console: c.console, exit: c.exitCode })),
  { name: 'ticker (q: pass)', guest: 'ticker', input: 'q', console: TICKER_BOOT + TICKS + TICKER_BYE, exit: 0, normalise: ticks },
  { name: 'ticker (x: fail 1)', guest: 'ticker', input: 'x', console: TICKER_BOOT + TICKS + TICKER_FAIL, exit: 1, normalise: ticks },
  { name: 'idle', guest: 'idle', input: '', console: IDLE_CONSOLE, exit: 'never' },
  { name: 'bench', guest: 'bench', input: '', console: BENCH_CONSOLE, exit: 0, timeoutMs: 180_000 },
  {
    name: 'virtio-hostile',
    guest: 'virtio-hostile',
    input: '',
    console: VIRTIO_HOSTILE_CONSOLE,
    exit: 0,
    qemuArgs: VIRTIO_HOSTILE_QEMU_ARGS,
    vmConfig: 'rng: true\n',
    normalise: hostile,
  },
  { name: 'virtio-irq', guest: 'virtio-irq', input: '', console: VIRTIO_IRQ_CONSOLE, exit: 0, qemuArgs: VIRTIO_IRQ_QEMU_ARGS, vmConfig: 'rng: true\n' },
];
