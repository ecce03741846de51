// The README promises two commands. What they install comes from one list
// (scripts/needs.list, read by scripts/ensure-deps.sh); these checks keep the README's table,
// the list, npm's pretest, the lab launcher and .ci/run from drifting apart, and run the real
// script on lists of its own to see what a user sees when something is missing.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';

interface Need {
  who: 'lab' | 'test';
  command: string;
  pkg: string;
}

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');

function needsList(): Need[] {
  return read('scripts/needs.list')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [who, command, pkg] = l.split(/\s+/);
      if ((who !== 'lab' && who !== 'test') || !command || !pkg) throw new Error(`scripts/needs.list: malformed line '${l}'`);
      return { who, command, pkg };
    });
}

/** The README's table between its needs markers, as the same triples. */
function readmeTable(): Need[] {
  const readme = read('README.md');
  const m = /<!-- needs:begin -->\n([\s\S]*?)<!-- needs:end -->/.exec(readme);
  if (!m) throw new Error('README.md has no <!-- needs:begin --> ... <!-- needs:end --> table');
  return m[1]!
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*(Debian package|---)/.test(l))
    .map((l) => {
      const [pkg, command, who] = l
        .split('|')
        .slice(1, 4)
        .map((c) => c.trim().replace(/`/g, ''));
      return { who: who === 'lab, test' ? 'lab' : (who as 'test'), command: command!, pkg: pkg! };
    });
}

function runEnsure(list: string, extraEnv: Record<string, string> = {}) {
  return spawnSync('bash', [join(REPO_ROOT, 'scripts/ensure-deps.sh'), 'test'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SPLITVISOR_NEEDS_LIST: list, ...extraEnv },
    timeout: 120_000,
  });
}

function tempList(body: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sv-needs-')), 'needs.list');
  writeFileSync(file, body);
  return file;
}

describe('what the two commands install', () => {
  it('the README lists exactly what scripts/needs.list holds', () => {
    const list = needsList();
    expect(list.length).toBeGreaterThan(5);
    expect(readmeTable()).toEqual(list);
  });

  it('npm test installs through the list before it runs, and .ci/run is npm test and nothing less', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts['pretest']).toBe('bash scripts/ensure-deps.sh test');
    const ci = read('.ci/run');
    expect(ci).toMatch(/^npm test$/m);
    // No second list to drift: CI installs nothing of its own.
    expect(ci).not.toMatch(/apt-get|npm ci|fetch-firmware/);
    expect(ci).toMatch(/NX_DAEMON=false NX_NO_CLOUD=true/);
  });

  it('npm run lab installs through the same list', () => {
    expect(read('scripts/lab.sh')).toMatch(/^bash scripts\/ensure-deps\.sh lab\b/m);
    expect(read('scripts/lab.sh')).not.toMatch(/apt-get/);
  });

  it('every command the list names is on this machine after npm test set it up', () => {
    // pretest ran ensure-deps before this suite: what it says it installed must be here.
    const absent = needsList().filter(
      (n) => spawnSync('bash', ['-c', `command -v ${n.command} || [ -x /usr/sbin/${n.command} ] || [ -x /sbin/${n.command} ]`]).status !== 0,
    );
    expect(absent).toEqual([]);
  });

  it('where it may not install, it names what is missing and prints the one apt-get line, and stops', () => {
    const list = tempList(
      'lab  nats-server  nats-server  present\n' +
        'test no-such-command-sv-1  sv-fake-package-a  missing one\n' +
        'test no-such-command-sv-2  sv-fake-package-b  missing two\n' +
        'test no-such-command-sv-3  sv-fake-package-a  the same package twice\n',
    );
    const r = runEnsure(list, { SPLITVISOR_NO_INSTALL: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('missing: no-such-command-sv-1 no-such-command-sv-2 no-such-command-sv-3');
    expect(r.stderr).toMatch(/^ {2}sudo apt-get install -y sv-fake-package-a sv-fake-package-b$/m);
    expect(r.stderr).not.toContain('nats-server');
  });

  it('a malformed list is refused, naming the line and the field', () => {
    const bad = runEnsure(tempList('# comment\nlab nats-server\n'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/needs\.list line 2: needs who, command and package/);
    const who = runEnsure(tempList('ci  make  make  why\n'));
    expect(who.status).toBe(1);
    expect(who.stderr).toMatch(/needs\.list line 1: who needs 'make' must be lab or test, not 'ci'/);
  });

  it('with everything present it is quiet and succeeds', () => {
    const r = runEnsure(join(REPO_ROOT, 'scripts/needs.list'), { SPLITVISOR_NO_INSTALL: '1' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });
});
