// The walking skeleton end to end: real nats-server, the four services as processes, the
// CLI as a process, the committed guest images. What QEMU prints is what we must print.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { protos, type CpuV1, type MmuV1 } from '@splitvisor/proto';
import { RpcClient, RpcError } from '@splitvisor/rpc';
import { startTestLab, REPO_ROOT, type TestLab } from '@splitvisor/testing';
import {
  IRQ_CONSOLE,
  IRQ_INPUT,
  ECHO_CONSOLE,
  ECHO_FAIL_CONSOLE,
  ECHO_FAIL_EXIT_CODE,
  ECHO_FAIL_INPUT,
  ECHO_INPUT,
  FAULT_CONSOLE,
  HELLO_CONSOLE,
} from './guest-expectations.js';
import { configDir, labEnv, runCli } from './cli-runner.js';

let t: TestLab;
let env: Record<string, string>;
const { dir: tmp, vmFile } = configDir('sv-e2e-');

beforeAll(async () => {
  t = await startTestLab();
  env = labEnv(t);
});
afterAll(async () => {
  await t?.teardown();
});

describe('a guest across four processes', () => {
  it('runs examples/hello.yaml: the banner QEMU prints, exit 0, everything released', async () => {
    const r = await runCli(['run', 'examples/hello.yaml'], { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(HELLO_CONSOLE);
    expect(r.code).toBe(0);

    const list = await runCli(['list', '--json'], { env });
    const vms = JSON.parse(list.stdout) as { name: string; state: string; exitCode: number; reason: string }[];
    expect(vms.find((v) => v.name === 'hello')).toMatchObject({ state: 'stopped', exitCode: 0, reason: expect.stringMatching(/0x5555/) });

    // cpu and mmu released the VM: both answer NOT_FOUND for it now.
    const cpu = new RpcClient<CpuV1.CpuClient>(protos().cpu.Cpu, t.addresses.cpu);
    const mmu = new RpcClient<MmuV1.MmuClient>(protos().mmu.Mmu, t.addresses.mmu);
    const cpuErr = (await cpu.call('GetVmStats', { vmId: 'hello' }).catch((e: unknown) => e)) as RpcError;
    const mmuErr = (await mmu.call('GetVmStats', { vmId: 'hello' }).catch((e: unknown) => e)) as RpcError;
    cpu.close();
    mmu.close();
    expect(cpuErr.code).toBe('NOT_FOUND');
    expect(mmuErr.code).toBe('NOT_FOUND');
  });

  it('keeps console history in JetStream: a late `console` sees what the guest printed', async () => {
    const r = await runCli(['console', 'hello'], { env });
    expect(r.stdout).toBe(HELLO_CONSOLE);
    expect(r.stderr).toMatch(/hello is stopped/);
    expect(r.code).toBe(0);
  });

  it('delivers piped input to the guest UART (echo), and the guest powers off with pass', async () => {
    const r = await runCli(['run', 'examples/echo.yaml'], { env, input: ECHO_INPUT });
    expect(r.stdout).toBe(ECHO_CONSOLE);
    expect(r.code).toBe(0);
  });

  it("exits with the guest's failure code when it powers off with fail", async () => {
    const r = await runCli(['run', 'examples/echo.yaml'], { env, input: ECHO_FAIL_INPUT });
    expect(r.stdout).toBe(ECHO_FAIL_CONSOLE);
    expect(r.code).toBe(ECHO_FAIL_EXIT_CODE);
    expect(r.stderr).toMatch(/echo powered off with failure code 1/);
  });

  it('gives the guest an access fault for an unmapped address, logs it, and goes on', async () => {
    const r = await runCli(['run', 'examples/fault.yaml'], { env });
    expect(r.stdout).toBe(FAULT_CONSOLE);
    expect(r.code).toBe(0);
    const line = t.lines.find((l) => l.service === 'cpu' && l.line.includes('guest access fault'));
    expect(line?.line).toMatch(/load of \d bytes at unmapped 0x200000/);
  });

  it('delivers interrupts: CLINT timer ticks, then UART input through the PLIC, as on QEMU', async () => {
    const r = await runCli(['run', 'examples/irq.yaml'], { env, input: IRQ_INPUT });
    expect(r.stdout).toBe(IRQ_CONSOLE);
    expect(r.code).toBe(0);
  });

  it('runs a raw binary image too', async () => {
    const f = vmFile('hello-bin', `name: hello-bin\nmemory: 4M\nimage: ${join(REPO_ROOT, 'guests/hello/hello.bin')}\n`);
    const r = await runCli(['run', f], { env });
    expect(r.stdout).toBe(HELLO_CONSOLE);
    expect(r.code).toBe(0);
  });
});

describe('bad input', () => {
  it('refuses a malformed config naming the field, and creates nothing', async () => {
    const f = vmFile('bad', 'name: bad\nmemory: lots\nimage: x.elf\n');
    const r = await runCli(['run', f], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad.yaml: memory: "lots" is not a size like 64M/);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT/);
    const list = JSON.parse((await runCli(['list', '--json'], { env })).stdout) as { name: string }[];
    expect(list.map((v) => v.name)).not.toContain('bad');
  });

  it('refuses an incomplete config', async () => {
    const r = await runCli(['run', vmFile('incomplete', 'name: incomplete\nmemory: 4M\n')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/incomplete.yaml: image: is required/);
  });

  it('refuses a missing image', async () => {
    const r = await runCli(['run', vmFile('noimg', 'name: noimg\nmemory: 4M\nimage: ./nope.elf\n')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope.elf: no such file/);
  });

  it('refuses an image larger than RAM, naming both sizes', async () => {
    const big = join(tmp, 'big.bin');
    writeFileSync(big, Buffer.alloc(2 * 1024 * 1024 + 1, 0x13));
    const r = await runCli(['run', vmFile('big', `name: big\nmemory: 2M\nimage: ${big}\n`)], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not fit in RAM \[0x80000000, 0x80200000\) \(2 MiB\)/);
  });

  it('says clearly when a config file does not exist', async () => {
    const r = await runCli(['run', join(tmp, 'absent.yaml')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/absent.yaml: no such file/);
  });

  it('refuses to destroy a VM that does not exist', async () => {
    const r = await runCli(['destroy', 'ghost'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no vm named "ghost" \(NOT_FOUND\)/);
  });
});
