// The services' own flags against deploy/services.json (which compose.spec.ts checks
// against deploy/compose.yaml) and against the lab launcher's table: one contract, three
// places that must agree.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@splitvisor/testing';
import { DEFAULT_PORTS, SERVICE_ENV, type ServiceName } from '@splitvisor/lab';

interface Contract {
  main: string;
  port: number;
  env: string[];
}
const contract = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/services.json'), 'utf8')) as Record<ServiceName, Contract>;

function help(main: string): { env: string[]; listenDefault: string } {
  const text = execFileSync(process.execPath, [join(REPO_ROOT, main), '--help'], { encoding: 'utf8' });
  const env = [...text.matchAll(/^\s+--[a-z-]+\s+(SPLITVISOR_[A-Z_]+)/gm)].map((m) => m[1]!);
  const listen = /SPLITVISOR_LISTEN .*\(default ([^)]+)\)/.exec(text);
  return { env, listenDefault: listen?.[1] ?? '' };
}

describe('service contract', () => {
  it('names the same four services everywhere', () => {
    expect(Object.keys(contract).sort()).toEqual(Object.keys(DEFAULT_PORTS).sort());
  });

  for (const name of Object.keys(DEFAULT_PORTS) as ServiceName[]) {
    it(`${name}: reads every variable the contract lists, on the port it lists`, () => {
      const c = contract[name];
      const h = help(c.main);
      for (const v of c.env) expect(h.env, `${name} --help does not list ${v}`).toContain(v);
      expect(h.listenDefault).toBe(`127.0.0.1:${c.port}`);
      expect(DEFAULT_PORTS[name]).toBe(c.port);
      expect([...SERVICE_ENV[name]].sort()).toEqual([...c.env].sort());
    });
  }
});
