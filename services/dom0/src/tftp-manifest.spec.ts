import { describe, expect, it } from 'vitest';
import { manifestDigest, TFTP_LIMITS, tftpPathProblem, validateTftpManifest } from './tftp-manifest.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const check =
  (...entries: [string, string][]) =>
  () =>
    validateTftpManifest(
      'nics[0].tftp',
      entries.map(([path, sha256]) => ({ path, sha256 })),
    );

describe('a tftp manifest', () => {
  it('takes relative paths at any depth within the limit, an empty one too', () => {
    expect(check(['pxelinux.cfg/default', A], ['Image', B], ['boot/extlinux/extlinux.conf', A], ['.hidden', B], ['a..b', A])).not.toThrow();
    expect(check()).not.toThrow();
    expect(tftpPathProblem(`${'d/'.repeat(TFTP_LIMITS.depth)}f`)).toBeUndefined();
  });

  it('refuses an escaping, absolute, empty, dotted, NUL or overlong path, naming the field, the entry and the path', () => {
    expect(check(['ok', A], ['../x', A])).toThrow('nics[0].tftp: tftpFiles[1].path "../x" has a \'..\' component (it would leave the directory)');
    expect(check(['a/../../x', A])).toThrow(/tftpFiles\[0\]\.path "a\/\.\.\/\.\.\/x" has a '\.\.' component/);
    expect(check(['/etc/passwd', A])).toThrow('nics[0].tftp: tftpFiles[0].path "/etc/passwd" is absolute (paths are relative to the tftp directory)');
    expect(check(['', A])).toThrow('nics[0].tftp: tftpFiles[0].path "" is empty');
    expect(check(['a//b', A])).toThrow(/"a\/\/b" has an empty or '\.' component/);
    expect(check(['./a', A])).toThrow(/"\.\/a" has an empty or '\.' component/);
    expect(check(['dir/', A])).toThrow(/"dir\/" has an empty or '\.' component/);
    expect(check(['a\0b', A])).toThrow('nics[0].tftp: tftpFiles[0].path "a\\u0000b" contains a NUL or control character');
    expect(check(['a\nb', A])).toThrow(/contains a NUL or control character/);
    expect(check(['x'.repeat(256), A])).toThrow(/is longer than 255 bytes/);
    expect(check([`${'d/'.repeat(TFTP_LIMITS.depth + 1)}f`, A])).toThrow(/is more than 16 directories deep/);
  });

  it('refuses a bad digest, a path given twice, and a path that is both a file and a directory', () => {
    expect(check(['a', 'ABC'])).toThrow('nics[0].tftp: tftpFiles[0].sha256 "ABC" (a) is not 64 lowercase hex digits');
    expect(check(['a', '../'.repeat(22)])).toThrow(/tftpFiles\[0\]\.sha256 .* is not 64 lowercase hex digits/);
    expect(check(['a', A], ['a', B])).toThrow('nics[0].tftp: tftpFiles[1].path "a" is given twice');
    expect(check(['a', A], ['a/b', B])).toThrow('nics[0].tftp: tftpFiles[1].path "a/b" is inside "a", which is a file of another entry');
    expect(check(['a/b', A], ['a', B])).toThrow('nics[0].tftp: tftpFiles[1].path "a" is also a directory of another entry');
  });

  it('refuses more files than a tftp directory may hold', () => {
    const many = Array.from({ length: TFTP_LIMITS.files + 1 }, (_, i): [string, string] => [`f${i}`, A]);
    expect(check(...many)).toThrow(`nics[0].tftp: ${TFTP_LIMITS.files + 1} files is more than a tftp directory may hold (${TFTP_LIMITS.files})`);
    expect(check(...many.slice(1))).not.toThrow();
  });

  it('names a manifest by its content, whatever the order', () => {
    const x = { path: 'a', sha256: A };
    const y = { path: 'b/c', sha256: B };
    expect(manifestDigest([x, y])).toBe(manifestDigest([y, x]));
    expect(manifestDigest([x, y])).not.toBe(manifestDigest([x, { ...y, sha256: A }]));
    expect(manifestDigest([x])).not.toBe(manifestDigest([{ ...x, path: 'a2' }]));
  });
});
