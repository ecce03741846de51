// The `splitvisor` toolstack commands as a person types them, against a real lab: human
// output by default, --json for scripts, one clear line and a non-zero exit on error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestLab, type TestLab } from '@splitvisor/testing';
import { labEnv, runCli } from './cli-runner.js';
import { TICKER } from './dom0-helpers.js';

let t: TestLab;
let env: Record<string, string | undefined>;
const tmp = mkdtempSync(join(tmpdir(), 'sv-cli-dom0-'));
const vmFile = (name: string, extra = '') => {
  const p = join(tmp, `${name}.yaml`);
  writeFileSync(p, `name: ${name}\nmemory: 16M\nimage: ${TICKER}\n${extra}`);
  return p;
};
const cli = (args: string[], input?: string) => runCli(args, { env, ...(input !== undefined && { input }) });

beforeAll(async () => {
  t = await startTestLab();
  // Only dom0's address: the CLI needs nothing else.
  env = { SPLITVISOR_DOM0_ADDR: labEnv(t).SPLITVISOR_DOM0_ADDR, SPLITVISOR_NATS_URL: undefined };
});
afterAll(async () => {
  await t?.teardown();
});

describe('splitvisor, one VM through its life', () => {
  it('create and start say what happened and where', async () => {
    const c = await cli(['create', vmFile('tick')]);
    expect(c.stderr).toBe('');
    expect(c.stdout).toBe(`created tick (16 MiB) on ${t.addresses.cpu}\n`);
    const s = await cli(['start', 'tick']);
    expect(s.stdout).toBe(`tick: running on ${t.addresses.cpu}\n`);
    expect(s.code).toBe(0);
  });

  it('list is a table with the node; --json is the API reply', async () => {
    const l = await cli(['list']);
    expect(l.stdout).toMatch(
      new RegExp(
        `^NAME +STATE +MODE +NODE +MEMORY +UPTIME +EXIT +REASON\\ntick +running +emulate +${t.addresses.cpu.replace(/\./g, '\\.')} +16 MiB +[\\d.]+s +-\\n$`,
      ),
    );
    const j = JSON.parse((await cli(['list', '--json'])).stdout) as { name: string; state: string; node: string }[];
    expect(j).toEqual([expect.objectContaining({ name: 'tick', state: 'running', node: t.addresses.cpu })]);
  });

  it('info shows the config, the policies and the times', async () => {
    const i = await cli(['info', 'tick']);
    expect(i.stdout).toMatch(
      /^name +tick\nstate +running\nmode +emulate\nnode +127\.0\.0\.1:\d+\nmemory +16 MiB\nvcpus +1\nimage +.*ticker\.elf\non_poweroff +destroy\non_reboot +restart\non_crash +destroy\nboots +1\n/,
    );
    const j = JSON.parse((await cli(['info', 'tick', '--json'])).stdout) as { config: { memoryBytes: number } };
    expect(j.config.memoryBytes).toBe(16 << 20);
  });

  it('top --once --json: exits/s by reason, resident memory, I/O per VM', async () => {
    const r = await cli(['top', '--once', '--json', '--interval', '500']);
    expect(r.code).toBe(0);
    const { vms } = JSON.parse(r.stdout) as {
      vms: { name: string; exitsPerSec: Record<string, number>; residentBytes: number; ioOpsPerSec: number; mips: number }[];
    };
    expect(vms).toHaveLength(1);
    const v = vms[0]!;
    expect(v.name).toBe('tick');
    // 20 ticks/s, each line ~8 bytes, each byte an LSR read the vCPU serves from its read
    // shadow and a THR write it posts (coalesced MMIO), neither an exit.
    expect(v.exitsPerSec['mmio-coalesced']).toBeGreaterThan(50);
    expect(v.exitsPerSec['mmio-shadowed']).toBeGreaterThan(50);
    expect(v.exitsPerSec['wfi']).toBeGreaterThan(5);
    for (const r of ['priv-insn', 'sbi-call', 'shadow-fault', 'guest-page-fault', 'virq-inject', 'vtrap']) expect(v.exitsPerSec[r], r).toBe(0);
    expect(v.ioOpsPerSec).toBeGreaterThan(100);
    expect(v.residentBytes).toBeGreaterThan(0);
    const human = await cli(['top', '--once', '--interval', '300']);
    expect(human.stdout).toMatch(
      /^splitvisor top - \d\d:\d\d:\d\d {2}1 vm, 1 running, 0 other\n\nNAME +STATE +NODE +MIPS +EXITS\/s +MMIO-R\/s +MMIO-W\/s +FETCH\/s +WFI\/s +COALESCED\/s +DOORBELL\/s +SHADOWED\/s +POLLIDLE\/s +PRIV\/s +SBI\/s +SHADOW\/s +GPF\/s +VIRQ\/s +VTRAP\/s +MEM +IRQ\/s +IO\/s +CONS B\/s\ntick +running /,
    );
  });

  it("stats: the raw numbers, every reason of the exit table (the modes' at 0) and the cpu's MMIO exits by device", async () => {
    const r = await cli(['stats', 'tick']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { cpu: { mode: string; exits: { reason: string; count: number }[]; devices: { device: string; reads: number }[] } };
    expect(s.cpu.mode).toBe('emulate');
    expect(s.cpu.exits.map((e) => e.reason)).toEqual([
      'mmio-read',
      'mmio-write',
      'page-fetch',
      'wfi',
      'mmio-coalesced',
      'doorbell',
      'mmio-shadowed',
      'poll-idle',
      'priv-insn',
      'sbi-call',
      'shadow-fault',
      'guest-page-fault',
      'virq-inject',
      'vtrap',
    ]);
    expect(s.cpu.exits.slice(8).every((e) => e.count === 0)).toBe(true);
    expect(s.cpu.devices.find((d) => d.device === 'serial@0x10000000')!.reads).toBeGreaterThan(0);
  });

  it('pause and resume', async () => {
    expect((await cli(['pause', 'tick'])).stdout).toBe('tick: paused\n');
    const e = await cli(['pause', 'tick']);
    expect(e.code).toBe(1);
    expect(e.stderr).toBe('splitvisor: vm "tick" is paused; pause needs it to be running (FAILED_PRECONDITION)\n');
    expect((await cli(['resume', 'tick'])).stdout).toBe(`tick: running on ${t.addresses.cpu}\n`);
  });

  it('reboot boots it again under the same name', async () => {
    const r = await cli(['reboot', 'tick', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'tick', state: 'running', boots: 2 });
  });

  it('console: history, then live; piped input reaches the guest, and it ends with the VM', async () => {
    const r = await cli(['console', 'tick'], 'q');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ticker: boot\r\ntick 1\r\n[^]*ticker: boot\r\ntick 1\r\n[^]*ticker: bye\r\n$/);
    expect(r.stderr).toBe('splitvisor: tick stopped: guest wrote 0x5555 to sifive_test at 0x100000\n');
    // Afterwards: the history, and what became of it.
    const again = await cli(['console', 'tick']);
    expect(again.stdout).toBe(r.stdout);
    expect(again.stderr).toMatch(/^splitvisor: tick is stopped: guest wrote 0x5555/);
  });

  it('start a stopped VM, shut it down, destroy it', async () => {
    expect((await cli(['start', 'tick'])).code).toBe(0);
    const s = await cli(['shutdown', 'tick']);
    expect(s.stdout).toBe('tick: stopped (shut down by request)\n');
    expect((await cli(['destroy', 'tick'])).stdout).toBe('tick: destroyed\n');
    expect((await cli(['list'])).stdout).toBe('NAME  STATE  MODE  NODE  MEMORY  UPTIME  EXIT  REASON\n');
  });

  it('events: the whole story, from the start, one line each', async () => {
    const r = await cli(['events', 'tick', '--from-start', '--no-follow']);
    const lines = r.stdout.trim().split('\n');
    const dom0 = lines.filter((l) => l.includes('(dom0)')).map((l) => l.split(/\s+/)[2]);
    expect(dom0).toEqual(['CREATED', 'STARTED', 'PAUSED', 'RESUMED', 'REBOOTING', 'STARTED', 'STOPPED', 'STARTED', 'SHUTDOWN', 'STOPPED', 'DESTROYED']);
    expect(lines.find((l) => l.includes('(io-backend)'))).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}tick {2}POWEROFF {2}\(io-backend\) {2}guest wrote 0x5555/);
    const j = (await cli(['events', '--from-start', '--no-follow', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { vmId: string });
    expect(j.length).toBeGreaterThanOrEqual(lines.length);
  });
});

describe('splitvisor, errors', () => {
  it('one clear line and exit 1 for an unknown VM, on every command that names one', async () => {
    for (const cmd of ['start', 'pause', 'resume', 'reboot', 'shutdown', 'destroy', 'info', 'console', 'stats']) {
      const r = await cli([cmd, 'ghost']);
      expect(r.code, cmd).toBe(1);
      expect(r.stderr, cmd).toBe('splitvisor: no vm named "ghost" (NOT_FOUND)\n');
    }
  });

  it('exit 2 with usage for a wrong flag or a missing argument', async () => {
    const r = await cli(['top', '--jsn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^splitvisor: top: unknown flag --jsn \(this command takes --json, --once, --interval\)\nusage:/);
    const m = await cli(['pause']);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/^splitvisor: pause: missing <vm>\n/);
  });

  it('a duplicate name is refused', async () => {
    expect((await cli(['create', vmFile('twice')])).code).toBe(0);
    const r = await cli(['create', vmFile('twice')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('splitvisor: a vm named "twice" already exists and is created (ALREADY_EXISTS)\n');
    await cli(['destroy', 'twice']);
  });

  it('a mode that is not one is refused at create, naming the field and the modes this build has', async () => {
    const r = await cli(['create', vmFile('vmx', 'mode: vmx\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `splitvisor: ${join(tmp, 'vmx.yaml')}: mode: "vmx" is not a mode (modes: emulate, hw, trap, pv; this build has emulate, hw, trap, pv) (INVALID_ARGUMENT)\n`,
    );
    expect((await cli(['list'])).stdout).not.toMatch(/^vmx /m);
  });
});
