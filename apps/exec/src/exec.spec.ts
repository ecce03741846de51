// `splitvisor exec`: the ELF loader, the one-process machine (the lab's UART, sifive_test,
// CLINT, PLIC and boot ROM; HTIF; both clocks) and the launcher itself, spawned as a
// person would run it.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseElf } from '@splitvisor/elf';
import { VIRTIO_MMIO_MAGIC } from '@splitvisor/devices';
import { CLINT, DRAM_BASE, SIFIVE_TEST, UART0 } from '@splitvisor/platform';
import { Csr, encode as e, GuestRam, Htif } from '@splitvisor/riscv';
import { ExecMachine } from './machine.js';

const R = e.Reg;
const LIB = fileURLToPath(new URL('../', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const HELLO = `${REPO}guests/hello/hello.elf`;
const HTIF_HELLO = `${LIB}testdata/htif-hello.elf`;
const PRIV_PAGING = `${LIB}testdata/priv-paging.elf`;

function exec(args: string[]) {
  const r = spawnSync(process.execPath, [`${LIB}bin/exec.js`, ...args], { encoding: 'latin1', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A machine with `program` at DRAM, where the boot ROM jumps; output collected. */
function platform(program: number[], clock: 'host' | 'icount' = 'icount') {
  const out: number[] = [];
  const ram = new GuestRam(DRAM_BASE, 1 << 20);
  ram.writeWords(DRAM_BASE, program);
  const p = new ExecMachine({ ram, entry: DRAM_BASE, clock, output: (b) => out.push(...b) });
  return { p, text: () => String.fromCharCode(...out) };
}

const PASS = [...e.li(R.t0, SIFIVE_TEST.base), ...e.li(R.t1, 0x5555), e.sw(R.t1, R.t0, 0)];

describe('ELF loader', () => {
  it('finds the PT_LOAD segments, the entry and the symbols', () => {
    const elf = parseElf(readFileSync(HTIF_HELLO));
    expect(elf.entry).toBe(DRAM_BASE);
    expect(elf.segments.length).toBeGreaterThan(0);
    expect(elf.segments[0]!.paddr).toBe(DRAM_BASE);
    expect(elf.symbols.get('tohost')).toBeGreaterThan(DRAM_BASE);
    expect(elf.symbols.get('fromhost')).toBe(elf.symbols.get('tohost')! + 64);
  });

  it('refuses what is not a 64-bit RISC-V ELF', () => {
    const bad = new Uint8Array(readFileSync(HELLO));
    bad[18] = 62; // EM_X86_64
    expect(() => parseElf(bad)).toThrow(/not RISC-V/);
    expect(() => parseElf(new Uint8Array(64))).toThrow(/not an ELF/);
  });
});

describe('the exec machine', () => {
  it('UART: THR goes to the output, LSR says empty, the divisor latch swallows its writes', () => {
    const prog = [
      ...e.li(R.s1, UART0.base),
      e.addi(R.t0, 0, 0x80),
      e.sb(R.t0, R.s1, 3), // LCR.DLAB
      e.addi(R.t0, 0, 0x41),
      e.sb(R.t0, R.s1, 0), // DLL, not a character
      e.sb(0, R.s1, 3),
      e.lbu(R.a0, R.s1, 5),
      e.addi(R.t0, 0, 0x68),
      e.sb(R.t0, R.s1, 0),
      e.addi(R.t0, 0, 0x69),
      e.sb(R.t0, R.s1, 0),
      ...PASS,
    ];
    const { p, text } = platform(prog);
    expect(p.run()).toEqual({ kind: 'exit', code: 0, how: 'sifive-test' });
    expect(text()).toBe('hi');
    expect(p.hart.getReg(R.a0)).toBe(0x60n);
  });

  it('sifive_test: fail carries the code in bits 31:16', () => {
    const { p } = platform([...e.li(R.t0, SIFIVE_TEST.base), ...e.li(R.t1, (7 << 16) | 0x3333), e.sw(R.t1, R.t0, 0), e.jal(0, 0)]);
    expect(p.run()).toEqual({ kind: 'exit', code: 7, how: 'sifive-test' });
  });

  it('CLINT: a WFI waits for mtimecmp, and with icount the wait costs no host time', () => {
    // mtimecmp = mtime + 1,000,000 ticks (0.1 s); MTIE, MIE; wfi; the handler passes.
    const handler = DRAM_BASE + 0x400;
    const prog = [
      ...e.li(R.s0, CLINT.base),
      ...e.li(R.t0, 0xbff8),
      e.add(R.t0, R.t0, R.s0),
      e.ld(R.t1, R.t0, 0), // mtime
      ...e.li(R.t2, 1_000_000),
      e.add(R.t1, R.t1, R.t2),
      ...e.li(R.t0, 0x4000),
      e.add(R.t0, R.t0, R.s0),
      e.sd(R.t1, R.t0, 0), // mtimecmp
      ...e.li(R.t0, handler),
      e.csrw(Csr.mtvec, R.t0),
      e.addi(R.t0, 0, 0x80),
      e.csrw(Csr.mie, R.t0),
      e.csrrsi(0, Csr.mstatus, 8),
      e.wfi(),
      e.jal(0, 0),
    ];
    const { p } = platform(prog);
    p.ram.writeWords(handler, [e.csrr(R.a0, Csr.mcause), e.csrr(R.a1, Csr.time), ...PASS]);
    const t0 = performance.now();
    expect(p.run()).toEqual({ kind: 'exit', code: 0, how: 'sifive-test' });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(BigInt.asUintN(64, p.hart.getReg(R.a0))).toBe((1n << 63n) | 7n);
    expect(p.hart.getReg(R.a1)).toBeGreaterThanOrEqual(1_000_000n);
  });

  it('CLINT: msip raises MSI', () => {
    const handler = DRAM_BASE + 0x400;
    const prog = [
      ...e.li(R.t0, handler),
      e.csrw(Csr.mtvec, R.t0),
      e.addi(R.t0, 0, 8),
      e.csrw(Csr.mie, R.t0),
      e.csrrsi(0, Csr.mstatus, 8),
      ...e.li(R.s0, CLINT.base),
      e.addi(R.t0, 0, 1),
      e.sw(R.t0, R.s0, 0),
      e.jal(0, 0),
    ];
    const { p } = platform(prog);
    p.ram.writeWords(handler, [e.csrr(R.a0, Csr.mcause), ...PASS]);
    expect(p.run().kind).toBe('exit');
    expect(BigInt.asUintN(64, p.hart.getReg(R.a0))).toBe((1n << 63n) | 3n);
  });

  it("devices answer as the lab's models (PLIC, an empty virtio slot), unmodelled windows as the table says; outside the map is a fault", () => {
    const prog = [
      ...e.li(R.t0, 0x0c00_0000),
      e.lw(R.a0, R.t0, 4), // PLIC priority 1: 0 at reset
      e.sw(R.t0, R.t0, 4),
      ...e.li(R.t0, 0x10001000),
      e.lw(R.a1, R.t0, 0), // virtio-mmio slot 0, nothing plugged: MagicValue "virt"
      ...e.li(R.t0, 0x3000_0000),
      e.lw(R.a3, R.t0, 0), // PCIe ECAM: all ones, no function
      ...e.li(R.t0, 0x2000_0000),
      e.lw(R.a4, R.t0, 0), // flash: no CFI answer
      e.sw(R.t0, R.t0, 0),
      ...e.li(R.t0, 0x20_0000),
      e.lw(R.a2, R.t0, 0), // a hole of the map
    ];
    const { p } = platform(prog);
    p.hart.writeCsr(Csr.mtvec, BigInt(DRAM_BASE + 0x400));
    p.ram.writeWords(DRAM_BASE + 0x400, [e.wfi()]);
    expect(p.run(200).kind).toBe('fatal'); // parked in the handler's WFI for good
    expect([p.hart.getReg(R.a0), p.hart.getReg(R.a1)]).toEqual([0n, BigInt(VIRTIO_MMIO_MAGIC)]);
    expect([p.hart.getReg(R.a3), p.hart.getReg(R.a4)]).toEqual([-1n, 0n]);
    expect(p.hart.readCsr(Csr.mcause)).toBe(5n);
    expect(p.hart.readCsr(Csr.mtval)).toBe(0x20_0000n);
  });

  it('a WFI that nothing can end is reported, not waited on forever', () => {
    const { p } = platform([e.wfi()]);
    expect(p.run()).toMatchObject({ kind: 'fatal', reason: expect.stringMatching(/interrupt nothing will raise/) });
  });

  it('icount time is a function of the instructions run, so runs replay exactly', () => {
    const prog = [e.addi(R.t0, 0, 500), e.addi(R.t0, R.t0, -1), e.bne(R.t0, 0, -4), e.csrr(R.a0, Csr.time), ...PASS];
    const times = [0, 1].map(() => {
      const { p } = platform(prog);
      p.run();
      return p.hart.getReg(R.a0);
    });
    expect(times[0]).toBe(times[1]);
  });

  it('HTIF: putchar, write through a syscall block, exit; tohost cleared and fromhost answered', () => {
    const out: number[] = [];
    let code = -1;
    const tohost = DRAM_BASE + 0x10000;
    const prog = [
      ...e.li(R.s0, tohost),
      ...e.li(R.t0, 0x0101_0000_0000_0041n),
      e.sd(R.t0, R.s0, 0),
      e.ld(R.a0, R.s0, 0), // cleared by the host
      e.ld(R.a1, R.s0, 64), // fromhost
      ...e.li(R.t0, 2 * 21 + 1),
      e.sd(R.t0, R.s0, 0),
      e.jal(0, 0),
    ];
    const { p } = platform(prog);
    const htif = new Htif(p.hart, p.ram, { tohost, fromhost: tohost + 64, onExit: (c) => ((code = c), p.hart.stop()), onOutput: (b) => out.push(...b) });
    p.hart.run(1000);
    expect(code).toBe(21);
    expect(out).toEqual([0x41]);
    expect(p.hart.getReg(R.a0)).toBe(0n);
    expect(BigInt.asUintN(64, p.hart.getReg(R.a1))).toBe(0x0101_0000_0000_0141n);
    expect(htif.commands).toBe(2);
  });

  it('HTIF: a store to tohost is seen after a load made its page resident (the load may grant Modified)', () => {
    const tohost = DRAM_BASE + 0x10000;
    const prog = [...e.li(R.s0, tohost), e.ld(R.t1, R.s0, 0), ...e.li(R.t0, 2 * 9 + 1), e.sd(R.t0, R.s0, 0), e.sd(R.t0, R.s0, 0), e.jal(0, 0)];
    const { p } = platform(prog);
    let code = -1;
    new Htif(p.hart, p.ram, { tohost, onExit: (c) => ((code = c), p.hart.stop()), onOutput: () => undefined });
    p.hart.run(1000);
    expect(code).toBe(9);
    expect(p.hart.getPc()).toBe(DRAM_BASE + 4 * (prog.length - 2)); // stopped at the first store
  });
});

describe('splitvisor exec (the launcher)', () => {
  it('runs guests/hello: the banner on stdout, exit status 0, stats on stderr', () => {
    const r = exec([HELLO, '--stats']);
    expect(r.stdout).toContain('Hello from Splitvisor');
    expect(r.stdout).toContain('hart 0 says goodbye');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\d+ instructions retired in [\d.]+ s = [\d.]+ MIPS/);
  });

  it('runs a flat .bin at DRAM', () => {
    const r = exec([`${REPO}guests/hello/hello.bin`]);
    expect(r.stdout).toContain('Hello from Splitvisor');
    expect(r.code).toBe(0);
  });

  it('runs an HTIF program: its console output and its exit code', () => {
    const r = exec([HTIF_HELLO, '--clock', 'icount']);
    expect(r.stdout).toBe('htif putchar\nhtif write\n');
    expect(r.code).toBe(5);
  });

  it('runs the privilege and paging self-test (M -> S with Sv39 -> U, faults, delegation)', () => {
    const r = exec([PRIV_PAGING, '--clock', 'icount']);
    expect(r.stdout).toContain('priv-paging: ok');
    expect(r.code).toBe(0);
  });

  // HTIF decodes the physical address: stores through a virtual mapping, from S or U,
  // must reach it. The programs wait for tohost == 0 first (a load) under leaves with A
  // and D preset, so a store could find a writable translation and a resident page.
  it.each(['htif-sv39', 'htif-sv48', 'htif-user'])('runs %s: HTIF through a virtual address, then exit 0', (name) => {
    const r = exec([`${LIB}testdata/${name}.elf`, '--clock', 'icount', '--max-insns', '1000000']);
    expect(r.stdout).toBe(`${name}: ok\n`);
    expect(r.code, r.stderr).toBe(0);
  });

  it('--max-insns stops a program that does not end (status 124); --trace prints each step', () => {
    const r = exec([`${REPO}guests/echo/echo.elf`, '--max-insns', '100000']);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/stopped after 100000 instructions/);
    const t = exec([HELLO, '--trace', '--max-insns', '3']);
    expect(t.stderr.split('\n').filter((l) => l.startsWith('core 0: M 0x')).length).toBe(3);
  });

  it('--dtb puts the blob at the top of RAM and its address in a1; --load places more images', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sv-exec-'));
    const fdt = new Uint8Array(64);
    fdt.set([0xd0, 0x0d, 0xfe, 0xed]); // FDT magic, big-endian
    writeFileSync(join(dir, 'x.dtb'), fdt);
    // main: check a1 = 0x87e00000 (128 MiB RAM) and the magic, then jump to the payload.
    const main = [
      ...e.li(R.t0, 0x87e0_0000),
      e.bne(R.a1, R.t0, 32),
      e.lwu(R.t1, R.a1, 0),
      ...e.li(R.t2, 0xedfe0dd0),
      e.bne(R.t1, R.t2, 12),
      ...e.li(R.t0, 0x8010_0000),
      e.jalr(0, R.t0, 0),
      e.jal(0, 0),
    ];
    const toBytes = (ws: number[]) => new Uint8Array(new Uint32Array(ws).buffer);
    writeFileSync(join(dir, 'main.bin'), toBytes(main));
    writeFileSync(join(dir, 'payload.bin'), toBytes(PASS));
    const r = exec([join(dir, 'main.bin'), '--dtb', join(dir, 'x.dtb'), '--load', `${join(dir, 'payload.bin')}@0x80100000`, '--max-insns', '1000']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('--engine translate: the same output and counts as the interpreter, the same run to run under icount', () => {
    const bench = `${REPO}guests/bench/bench.elf`;
    const insns = (stderr: string) => /(\d+) instructions retired/.exec(stderr)?.[1];
    const interp = exec([bench, '--clock', 'icount', '--stats', '--max-insns', '20000000', '--engine', 'interp']);
    for (const codegen of ['wasm', 'js']) {
      const runs = [0, 1].map(() => exec([bench, '--clock', 'icount', '--stats', '--max-insns', '20000000', '--engine', 'translate', '--codegen', codegen]));
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(124);
        expect(r.stdout).toBe(interp.stdout);
        expect(insns(r.stderr)).toBe(insns(interp.stderr));
        const cache = /code cache: ([1-9]\d*) blocks compiled \((\d+) to WebAssembly\) in [\d.]+ s \([\d.]+% of the run\), \d+ live/.exec(r.stderr);
        expect(cache, r.stderr).not.toBeNull();
        // M-mode code with physical data addresses: every block WebAssembly, or none.
        expect(cache![2], codegen).toBe(codegen === 'wasm' ? cache![1] : '0');
      }
      // The whole program, to its checksum and exit.
      const whole = exec([bench, '--engine', 'translate', '--codegen', codegen, '--max-blocks', '64']);
      expect(whole.code, whole.stderr).toBe(0);
      expect(whole.stdout).toBe('bench checksum 0000f0f735dc3c42\r\n');
    }
  }, 60_000);

  it('usage errors exit 2 with the usage text', () => {
    for (const args of [
      [],
      ['--clock', 'wall', HELLO],
      [HELLO, 'extra'],
      ['/nonexistent.elf'],
      [HELLO, '--engine', 'jit'],
      [HELLO, '--max-blocks', '0'],
      [HELLO, '--codegen', 'asm'],
    ]) {
      const r = exec(args);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(exec([]).stderr).toContain('usage: splitvisor exec');
  });
});
