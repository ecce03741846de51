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
export const FAULT_CONSOLE =
  FAULT_TOUCH + `trap cause=${FAULT_CAUSE}\r\n` + `mtval=${faultMtval(FAULT_ADDRESS)}\r\n`;

/** Input for guests/irq: each byte arrives through the UART's receive interrupt. */
export const IRQ_INPUT = 'hiq';

/** guests/irq: three CLINT timer interrupts, then one "got" line per byte received
 *  through the PLIC; 'q' ends it with pass. */
export const IRQ_CONSOLE =
  'irq guest\r\n' + 'tick 1\r\ntick 2\r\ntick 3\r\n' + 'waiting for input\r\n' + 'got h\r\ngot i\r\ngot q\r\n' + 'bye\r\n';

/** Guest RAM base on the virt machine: every image is linked and loaded here. */
/** One line of guests/posted's output, numbered 00..03. */
export const postedLine = (n: number): string => `${String(n).padStart(2, '0')} the quick brown fox jumps over the lazy dog 0123456789 ABCDEF\r\n`;

/** Everything guests/posted prints when its order checks pass (the loopback bytes and the
 *  divisor never reach the console); then it powers off with pass. */
export const POSTED_CONSOLE = Array.from({ length: 4 }, (_, i) => postedLine(i)).join('') + 'posted: ok\r\n';

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
