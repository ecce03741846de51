import { describe, expect, it } from 'vitest';
import { progressLine, progressOn, uploadSummary, type FileOutcome } from './upload-progress.js';

const f = (label: string, name: string, status: FileOutcome['status'], bytes = 0): FileOutcome => ({ label, name, status, bytes });

describe('what the CLI says about uploads', () => {
  it('sums up what was sent, how fast, and what needed no bytes', () => {
    expect(uploadSummary([f('kernel', 'Image', 'sent', 30 << 20), f('initrd', 'initrd.cpio', 'already there')], 1000)).toBe(
      'files: sent kernel Image: 30 MiB in 1.00 s (30 MiB/s); already there: initrd initrd.cpio',
    );
    expect(uploadSummary([f('image', 'hello.elf', 'already there'), f('virtio-blk0', 'disk.img', 'opened in place')], 0)).toBe(
      'files: 0 bytes sent; already there: image hello.elf; dom0 opens in place: virtio-blk0 disk.img',
    );
  });

  it('draws a bar', () => {
    expect(progressLine('kernel Image', 15 << 20, 30 << 20, 500, 10)).toBe('uploading kernel Image [#####-----] 50% 15 MiB/30 MiB 30 MiB/s');
    expect(progressLine('x', 0, 0, 0, 4)).toBe('uploading x [####] 100% 0 B/0 B 0 B/s');
  });

  it('off a terminal, only the summary line', () => {
    let out = '';
    const p = progressOn({ isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream);
    p.file('image hello.elf', 100);
    p.sent(100);
    p.end('files: 0 bytes sent');
    expect(out).toBe('splitvisor: files: 0 bytes sent\n');
  });

  it('on a terminal, the bar redrawn in place, then cleared for the summary', () => {
    let out = '';
    const p = progressOn({ isTTY: true, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream);
    p.file('image hello.elf', 100);
    p.sent(100);
    p.end('files: sent');
    const frames = out.split('\r\x1b[K');
    expect(frames[0]).toBe('');
    expect(frames[1]).toMatch(/^splitvisor: uploading image hello\.elf \[-+\] 0% /);
    expect(frames[2]).toMatch(/^splitvisor: uploading image hello\.elf \[#+\] 100% /);
    expect(frames.slice(3)).toEqual(['splitvisor: files: sent\n']);
  });
});
