import { describe, expect, it } from 'vitest';
import type { Dom0V1 } from '@splitvisor/proto';
import { fmtBytes, fmtDuration, infoPage, listTable, restartsLine, servicesTable, table } from './views.js';

const vm = (over: Partial<Dom0V1.VmInfo__Output>): Dom0V1.VmInfo__Output => ({
  name: 'web',
  state: 'running',
  memoryBytes: 64 << 20,
  image: '/g/ticker.elf',
  reason: '',
  exitCode: 0,
  createdAt: 1000,
  startedAt: 2000,
  stoppedAt: 0,
  node: '127.0.0.1:50052',
  uptimeSeconds: 0,
  onPoweroff: 'destroy',
  onReboot: 'restart',
  onCrash: 'destroy',
  vcpus: 1,
  boots: 1,
  configJson: '',
  firmware: '',
  kernel: '',
  mode: 'emulate',
  ...over,
});

describe('CLI views', () => {
  it('formats sizes and durations as people read them', () => {
    expect(fmtBytes(64 << 20)).toBe('64 MiB');
    expect(fmtBytes(1 << 30)).toBe('1 GiB');
    expect(fmtBytes(12288)).toBe('12 KiB');
    expect(fmtBytes(1536 * 1024)).toBe('1.5 MiB');
    expect(fmtBytes(100)).toBe('100 B');
    expect(fmtDuration(3.25)).toBe('3.3s');
    expect(fmtDuration(125)).toBe('2m05s');
    expect(fmtDuration(7300)).toBe('2h01m');
  });

  it('pads columns but not the last one', () => {
    expect(
      table([
        ['A', 'BB', 'C'],
        ['xxx', 'y', 'a long reason'],
      ]),
    ).toBe('A    BB  C\nxxx  y   a long reason\n');
  });

  it('lists name, state, mode, node, memory, uptime, exit and reason', () => {
    const out = listTable(
      [
        vm({}),
        vm({ name: 'old', state: 'stopped', stoppedAt: 5000, exitCode: 3, reason: 'guest wrote 0x33333' }),
        vm({ name: 'new', state: 'created', startedAt: 0, node: '', mode: '' }),
      ],
      4500,
    );
    expect(out.split('\n')).toEqual([
      'NAME  STATE    MODE     NODE             MEMORY  UPTIME  EXIT  REASON',
      'web   running  emulate  127.0.0.1:50052  64 MiB  2.5s    -',
      'old   stopped  emulate  127.0.0.1:50052  64 MiB  3.0s    3     guest wrote 0x33333',
      'new   created  emulate  -                64 MiB  -       -',
      '',
    ]);
  });

  it('shows one VM in full', () => {
    const page = infoPage(vm({ kernel: '/k', firmware: '/fw' }), 4500);
    expect(page).toMatch(
      /^name +web\nstate +running\nmode +emulate\nnode +127\.0\.0\.1:50052\nmemory +64 MiB\nvcpus +1\nfirmware +\/g\/ticker\.elf\nkernel +\/k\non_poweroff +destroy\non_reboot +restart\non_crash +destroy\nboots +1\n/,
    );
    expect(page).toMatch(/\nuptime +2\.5s\n/);
  });

  it('says which services restarted, how often and how they last died; nothing when none did', () => {
    const up = { state: 'up' as const, pid: 10, upSince: 1000 };
    expect(restartsLine([{ name: 'mmu', restarts: 0, ...up }], 5000)).toBe('');
    expect(restartsLine(undefined)).toBe('');
    expect(
      restartsLine(
        [
          { name: 'dom0', restarts: 2, ...up, lastExit: { code: null, signal: 'SIGKILL', at: 2000, upMs: 40 } },
          { name: 'cpu-2', restarts: 1, state: 'restarting', pid: undefined, upSince: 0, lastExit: { code: 3, signal: null, at: 4500, upMs: 9 } },
        ],
        5000,
      ),
    ).toBe('services restarted: dom0 2x (last: signal SIGKILL 3.0s ago), cpu-2 1x (restarting now) (last: code 3 0.5s ago)\n');
  });

  it("tables a lab's services: address, health, pid, uptime, restarts, last exit", () => {
    const out = servicesTable(
      [
        { name: 'mmu', address: '127.0.0.1:1', health: 'SERVING', state: 'up', pid: 11, upSince: 1000, restarts: 0 },
        {
          name: 'dom0',
          address: '127.0.0.1:2',
          health: 'UNAVAILABLE',
          state: 'restarting',
          pid: undefined,
          upSince: 0,
          restarts: 1,
          lastExit: { code: null, signal: 'SIGKILL', at: 4000, upMs: 5 },
        },
      ],
      5000,
    );
    expect(out.split('\n')).toEqual([
      'SERVICE  ADDRESS      HEALTH       PID  UP          RESTARTS  LAST EXIT',
      'mmu      127.0.0.1:1  SERVING      11   4.0s        0         -',
      'dom0     127.0.0.1:2  UNAVAILABLE  -    restarting  1         signal SIGKILL, 1.0s ago',
      '',
    ]);
  });
});
