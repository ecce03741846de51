import { describe, expect, it } from 'vitest';
import type { Dom0V1 } from '@splitvisor/proto';
import { fmtBytes, fmtDuration, infoPage, listTable, table } from './views.js';

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

  it('lists name, state, node, memory, uptime, exit and reason', () => {
    const out = listTable(
      [
        vm({}),
        vm({ name: 'old', state: 'stopped', stoppedAt: 5000, exitCode: 3, reason: 'guest wrote 0x33333' }),
        vm({ name: 'new', state: 'created', startedAt: 0, node: '' }),
      ],
      4500,
    );
    expect(out.split('\n')).toEqual([
      'NAME  STATE    NODE             MEMORY  UPTIME  EXIT  REASON',
      'web   running  127.0.0.1:50052  64 MiB  2.5s    -',
      'old   stopped  127.0.0.1:50052  64 MiB  3.0s    3     guest wrote 0x33333',
      'new   created  -                64 MiB  -       -',
      '',
    ]);
  });

  it('shows one VM in full', () => {
    const page = infoPage(vm({ kernel: '/k', firmware: '/fw' }), 4500);
    expect(page).toMatch(
      /^name +web\nstate +running\nnode +127\.0\.0\.1:50052\nmemory +64 MiB\nvcpus +1\nfirmware +\/g\/ticker\.elf\nkernel +\/k\non_poweroff +destroy\non_reboot +restart\non_crash +destroy\nboots +1\n/,
    );
    expect(page).toMatch(/\nuptime +2\.5s\n/);
  });
});
