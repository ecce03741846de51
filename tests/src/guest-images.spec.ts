// The committed guest images: every folder of guests/ is built by guests/Makefile, its
// committed images are what its sources build (the toolchain is required: without
// riscv64-unknown-elf-gcc these fail, unless SPLITVISOR_ALLOW_NO_RISCV_GCC=1), each ELF is
// a RISC-V image entered at 0x80000000 whose flat .bin (where one is committed) is its
// loaded bytes, and each guest is in the QEMU parity list (qemu-guests.spec.ts).
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';
import { GUEST_ENTRY, PARITY_CASES } from './guest-expectations.js';
import { onPath, requireTool } from './require-tool.js';

const GUESTS_DIR = join(REPO_ROOT, 'guests');
const GCC = 'riscv64-unknown-elf-gcc';

/** Folders of guests/ that hold no guest image of ours, and what they hold instead. */
const NOT_GUESTS: Record<string, string> = {
  linux: "the /init and root file system files of the initramfs scripts/fetch-linux.sh builds around Debian's kernel",
};

/** Guests entered elsewhere than 0x80000000, and why: each is compared with QEMU in its own spec. */
const OTHER_ENTRY: Record<string, { entry: bigint; spec: string }> = {
  // S-mode, entered by OpenSBI fw_jump where it continues (0x80200000); kernel.spec.ts.
  kernel: { entry: 0x80200000n, spec: 'kernel.spec.ts' },
};

/** Guests compared with QEMU in a spec of their own instead of PARITY_CASES, and why. */
const OWN_QEMU_SPEC: Record<string, string> = {
  // The fault-injection checkers print a seed and timings and run for many seconds; their
  // consoles are compared with QEMU's with those numbers blanked.
  diskcheck: 'checker-guests.spec.ts',
  intcount: 'checker-guests.spec.ts',
  memsum: 'checker-guests.spec.ts',
  // Input typed once it asks, and `splitvisor stats` read before it ends.
  'uart-poll': 'uart-shadow.spec.ts',
};

/** Every other folder of guests/: one guest each, named after its folder. */
const FOLDERS = readdirSync(GUESTS_DIR)
  .filter((f) => statSync(join(GUESTS_DIR, f)).isDirectory() && !(f in NOT_GUESTS))
  .sort();

/** The guests guests/Makefile builds (its GUESTS line). */
function makefileGuests(): string[] {
  const line = /^GUESTS\s*:=\s*(.*)$/m.exec(readFileSync(join(GUESTS_DIR, 'Makefile'), 'utf8'));
  expect(line, 'guests/Makefile has a GUESTS := line').not.toBeNull();
  return line![1]!.trim().split(/\s+/).sort();
}

/** What a guest's folder commits as built output: <name>.elf always, <name>.bin when there is one. */
/** The images a guest's folder commits: its .elf, its .bin where there is one, and any
 *  other build it names (guests/bench's bench-long.elf). */
function images(guest: string): string[] {
  const extra = guest === 'bench' ? ['bench-long.elf'] : [];
  return [`${guest}.elf`, `${guest}.bin`, ...extra].filter((f) => existsSync(join(GUESTS_DIR, guest, f)));
}

// ELF64 little-endian: just enough of the format to check the committed images.
interface Elf {
  readonly entry: bigint;
  readonly machine: number;
  readonly loads: readonly { paddr: bigint; bytes: Buffer; memsz: bigint }[];
}

function parseElf(file: Buffer): Elf {
  expect(file.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  expect(file[4], 'ELFCLASS64').toBe(2);
  expect(file[5], 'little-endian').toBe(1);
  const machine = file.readUInt16LE(18);
  const entry = file.readBigUInt64LE(24);
  const phoff = Number(file.readBigUInt64LE(32));
  const phentsize = file.readUInt16LE(54);
  const phnum = file.readUInt16LE(56);
  const loads = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (file.readUInt32LE(ph) !== 1) continue; // PT_LOAD only
    const offset = Number(file.readBigUInt64LE(ph + 8));
    const paddr = file.readBigUInt64LE(ph + 24);
    const filesz = Number(file.readBigUInt64LE(ph + 32));
    const memsz = file.readBigUInt64LE(ph + 40);
    loads.push({ paddr, bytes: file.subarray(offset, offset + filesz), memsz });
  }
  return { entry, machine, loads };
}

describe('the guests in guests/', () => {
  it('every folder is built by guests/Makefile and compared with QEMU, and nothing else is listed', () => {
    expect(FOLDERS.length).toBeGreaterThan(10);
    expect(makefileGuests()).toEqual(FOLDERS);
    // memcheck is compared by its report in RAM, not in PARITY_CASES (qemu-guests.spec.ts);
    // the OTHER_ENTRY and OWN_QEMU_SPEC guests in their own specs.
    expect([...new Set([...PARITY_CASES.map((c) => c.guest), 'memcheck', ...Object.keys(OTHER_ENTRY), ...Object.keys(OWN_QEMU_SPEC)])].sort()).toEqual(FOLDERS);
  });
});

describe('committed guest images', () => {
  for (const guest of FOLDERS) {
    const elfPath = `guests/${guest}/${guest}.elf`;
    const entry = OTHER_ENTRY[guest]?.entry ?? GUEST_ENTRY;
    it(`${elfPath}: RISC-V ELF64 entered at 0x${entry.toString(16)}; the flat .bin, where committed, is its loaded bytes`, () => {
      const elf = parseElf(readFileSync(join(REPO_ROOT, elfPath)));
      expect(elf.machine, 'e_machine EM_RISCV').toBe(0xf3);
      expect(elf.entry).toBe(entry);
      expect(elf.loads.length).toBeGreaterThan(0);
      const base = elf.loads.reduce((m, l) => (l.paddr < m ? l.paddr : m), elf.loads[0]!.paddr);
      expect(base).toBe(entry);
      if (!images(guest).includes(`${guest}.bin`)) return; // guests/bench commits its ELF only
      // The flat image is the PT_LOAD segments laid out from the lowest one (objcopy -O binary).
      const end = elf.loads.reduce((m, l) => {
        const e = l.paddr + BigInt(l.bytes.length);
        return e > m ? e : m;
      }, base);
      const flat = Buffer.alloc(Number(end - base));
      for (const l of elf.loads) l.bytes.copy(flat, Number(l.paddr - base));
      const bin = `guests/${guest}/${guest}.bin`;
      expect(readFileSync(join(REPO_ROOT, bin)).equals(flat), `${bin} differs from ${elfPath}`).toBe(true);
    });
  }

  for (const guest of FOLDERS) {
    it(`guests/${guest}: the committed images are what its Makefile builds`, ({ skip }) => {
      requireTool(
        {
          ok: onPath(GCC) && onPath('make'),
          why: `${GCC} or make is not on PATH (Debian: apt-get install gcc-riscv64-unknown-elf make)`,
          needed: `guests/${guest} cannot be rebuilt to compare with its committed images`,
          allowVar: 'SPLITVISOR_ALLOW_NO_RISCV_GCC',
        },
        skip,
      );
      // A copy of the guests/ layout: the shared rules, link script and includes one level
      // up, the folder's sources (everything but its built images) below.
      const root = mkdtempSync(join(tmpdir(), `splitvisor-${guest}-`));
      const tmp = join(root, guest);
      try {
        mkdirSync(tmp);
        for (const f of readdirSync(GUESTS_DIR)) if (statSync(join(GUESTS_DIR, f)).isFile()) copyFileSync(join(GUESTS_DIR, f), join(root, f));
        const built = images(guest);
        for (const f of readdirSync(join(GUESTS_DIR, guest))) {
          // .o and .uelf (guests/kernel's user programs) are intermediate build products.
          if (!built.includes(f) && !f.endsWith('.o') && !f.endsWith('.uelf')) copyFileSync(join(GUESTS_DIR, guest, f), join(tmp, f));
        }
        const make = spawnSync('make', ['-C', tmp], { encoding: 'utf8' });
        expect(make.status, `make in a copy of guests/${guest}: ${make.stdout}${make.stderr}`).toBe(0);
        for (const f of built) {
          const same = readFileSync(join(tmp, f)).equals(readFileSync(join(GUESTS_DIR, guest, f)));
          expect(same, `guests/${guest}/${f} is stale: run make -C guests and commit`).toBe(true);
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
