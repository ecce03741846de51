import { describe, expect, it } from 'vitest';
import { parseMemory, parseVmConfig } from './vm-config.js';

const ok = 'name: hello\nmemory: 64M\nimage: ../guests/hello/hello.elf\n';

describe('VM config', () => {
  it('parses a valid config and resolves the image against the config directory', () => {
    expect(parseVmConfig(ok, '/repo/examples', 'hello.yaml')).toEqual({
      name: 'hello',
      memoryBytes: 64 * 1024 * 1024,
      image: '/repo/guests/hello/hello.elf',
      vcpus: 1,
      mode: 'emulate',
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'destroy',
    });
  });

  it('takes mode: emulate (the default) and refuses what is not a mode, naming the field and the modes it has', () => {
    expect(parseVmConfig(ok + 'mode: emulate\n', '/r').mode).toBe('emulate');
    expect(() => parseVmConfig(ok + 'mode: vmx\n', '/r', 'v.yaml')).toThrow(
      'v.yaml: mode: "vmx" is not a mode (modes: emulate, hw, trap, pv; this build has emulate, hw, trap, pv)',
    );
    expect(() => parseVmConfig(ok + 'mode: [pv]\n', '/r', 'p.yaml')).toThrow(/^p\.yaml: mode: \["pv"\] is not a mode/);
  });

  it('takes mode: hw with a kernel alone, and refuses firmware or image with it, naming the field', () => {
    const hw = 'name: k\nmemory: 128M\nmode: hw\n';
    expect(parseVmConfig(hw + 'kernel: k.elf\n', '/r', 'k.yaml')).toMatchObject({ mode: 'hw', kernel: '/r/k.elf' });
    expect(parseVmConfig(hw + 'kernel: k.elf\n', '/r', 'k.yaml').firmware).toBeUndefined();
    expect(() => parseVmConfig(hw + 'firmware: fw.bin\nkernel: k.elf\n', '/r', 'k.yaml')).toThrow(
      /^k\.yaml: firmware: is not used with mode: hw: the hypervisor answers the SBI itself/,
    );
    expect(() => parseVmConfig(hw + 'image: i.elf\n', '/r', 'k.yaml')).toThrow(
      /^k\.yaml: image: is entered in M-mode, which mode: hw keeps for the hypervisor/,
    );
    expect(() => parseVmConfig(hw, '/r', 'k.yaml')).toThrow(/^k\.yaml: kernel: is required with mode: hw/);
    const trap = 'name: k\nmemory: 128M\nmode: trap\n';
    expect(parseVmConfig(trap + 'kernel: k.elf\n', '/r', 'k.yaml')).toMatchObject({ mode: 'trap', kernel: '/r/k.elf' });
    expect(() => parseVmConfig(trap + 'firmware: fw.bin\nkernel: k.elf\n', '/r', 'k.yaml')).toThrow(/^k\.yaml: firmware: is not used with mode: trap/);
  });

  it('takes cpu: { h: true } (QEMU -cpu rv64,h=true) in mode emulate; h: false or no cpu: is the plain hart', () => {
    expect(parseVmConfig(ok + 'cpu:\n  h: true\n', '/r').cpu).toEqual({ h: true });
    expect(parseVmConfig(ok + 'mode: emulate\ncpu: { h: true }\n', '/r').cpu).toEqual({ h: true });
    expect(parseVmConfig(ok + 'cpu: { h: false }\n', '/r')).not.toHaveProperty('cpu');
    expect(parseVmConfig(ok + 'cpu: {}\n', '/r')).not.toHaveProperty('cpu');
    expect(parseVmConfig(ok, '/r')).not.toHaveProperty('cpu');
  });

  it('takes cpu: { engine: translate | interp } in every mode, and refuses another engine, naming it', () => {
    expect(parseVmConfig(ok + 'cpu: { engine: translate }\n', '/r').cpu).toEqual({ h: false, engine: 'translate' });
    expect(parseVmConfig(ok + 'cpu: { h: true, engine: interp }\n', '/r').cpu).toEqual({ h: true, engine: 'interp' });
    expect(parseVmConfig('name: p\nmemory: 64M\nmode: pv\nkernel: k.elf\ncpu: { engine: translate }\n', '/r', 'p.yaml').cpu).toEqual({
      h: false,
      engine: 'translate',
    });
    expect(() => parseVmConfig(ok + 'cpu: { engine: jit }\n', '/r', 'c.yaml')).toThrow('c.yaml: cpu.engine: expected one of interp, translate, got "jit"');
  });

  it('refuses a bad cpu: field, naming it, and H with a mode whose monitor has no nested virtualization', () => {
    expect(() => parseVmConfig(ok + 'cpu: h\n', '/r', 'c.yaml')).toThrow('c.yaml: cpu: expected a mapping like { h: true }, got "h"');
    expect(() => parseVmConfig(ok + 'cpu: [h]\n', '/r', 'c.yaml')).toThrow('c.yaml: cpu: expected a mapping like { h: true }, got ["h"]');
    expect(() => parseVmConfig(ok + 'cpu: { h: yes please }\n', '/r', 'c.yaml')).toThrow('c.yaml: cpu.h: expected true or false, got "yes please"');
    expect(() => parseVmConfig(ok + 'cpu: { v: true }\n', '/r', 'c.yaml')).toThrow('c.yaml: cpu.v: unknown field (known: h, engine)');
    for (const mode of ['hw', 'trap', 'pv']) {
      expect(() => parseVmConfig(ok + `mode: ${mode}\ncpu: { h: true }\n`, '/r', 'c.yaml')).toThrow(
        `c.yaml: cpu.h: the H extension needs mode: emulate; mode "${mode}"'s monitor does not offer nested virtualization (a hypervisor guest in VS-mode) yet`,
      );
    }
    // pv without H takes a kernel alone, as hw and trap do.
    expect(() => parseVmConfig(ok + 'mode: pv\ncpu: { h: false }\n', '/r', 'c.yaml')).toThrow(/^c\.yaml: /);
    expect(parseVmConfig('name: p\nmemory: 64M\nmode: pv\nkernel: k.elf\ncpu: { h: false }\n', '/r', 'p.yaml')).toMatchObject({
      mode: 'pv',
      kernel: '/r/k.elf',
    });
  });

  it('accepts the usual ways of writing a size', () => {
    expect(parseMemory('64MiB', 's')).toBe(64 << 20);
    expect(parseMemory('1G', 's')).toBe(1 << 30);
    expect(parseMemory(' 2 GiB ', 's')).toBe(2 * 2 ** 30);
    expect(parseMemory(16, 's')).toBe(16 << 20);
  });

  it('parses a firmware boot: firmware, kernel and bootargs, paths resolved like image', () => {
    const text = 'name: ub\nmemory: 256M\nfirmware: ../fw/fw_jump.bin\nkernel: /abs/u-boot.bin\nbootargs: console=ttyS0\n';
    expect(parseVmConfig(text, '/repo/examples', 'ub.yaml')).toEqual({
      name: 'ub',
      memoryBytes: 256 * 1024 * 1024,
      firmware: '/repo/fw/fw_jump.bin',
      kernel: '/abs/u-boot.bin',
      bootargs: 'console=ttyS0',
      vcpus: 1,
      mode: 'emulate',
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'destroy',
    });
    // firmware alone is a whole boot (it may carry its own payload); bootargs go with image too.
    expect(parseVmConfig('name: fw\nmemory: 64M\nfirmware: fw.elf\n', '/x').firmware).toBe('/x/fw.elf');
    expect(parseVmConfig(`${ok}bootargs: quiet\n`, '/x').bootargs).toBe('quiet');
    expect(parseVmConfig(ok, '/x')).not.toHaveProperty('firmware');
    // QEMU's -initrd, resolved like the other paths.
    expect(parseVmConfig('name: l\nmemory: 256M\nfirmware: fw\nkernel: Image\ninitrd: ../i.cpio.gz\n', '/x/y').initrd).toBe('/x/i.cpio.gz');
  });

  it.each([
    [
      'name: a\nmemory: 64M\nimage: a\nfirmware: f\n',
      /vm.yaml: firmware: cannot be combined with image: give image: alone .* or firmware: with an optional kernel:/,
    ],
    [
      'name: a\nmemory: 64M\nimage: a\nkernel: k\n',
      /vm.yaml: kernel: needs firmware: to start it \(fw_jump enters it at 0x80200000\); to boot an image with no firmware, use image:/,
    ],
    ['name: a\nmemory: 64M\nkernel: k\n', /vm.yaml: kernel: needs firmware:/],
    ['name: a\nmemory: 64M\nfirmware: 7\n', /vm.yaml: firmware: expected a file path, got 7/],
    ['name: a\nmemory: 64M\nfirmware: f\nkernel: ""\n', /vm.yaml: kernel: expected a file path, got ""/],
    ['name: a\nmemory: 64M\nimage: a\nbootargs: [x]\n', /vm.yaml: bootargs: expected a string, got \["x"\]/],
    ['name: a\nmemory: 64M\nimage: a\nbootargs: "a\\0b"\n', /vm.yaml: bootargs: may not contain a NUL character/],
    [
      'name: a\nmemory: 64M\nimage: a\nfirmwre: f\n',
      /vm.yaml: firmwre: unknown field \(known: name, memory, image, vcpus, mode, cpu\) \(also: firmware, kernel, bootargs, initrd\)/,
    ],
    ['name: a\nmemory: 64M\nfirmware: f\ninitrd: i\n', /vm.yaml: initrd: needs a kernel: to read it \(QEMU: -initrd needs -kernel\)/],
    ['name: a\nmemory: 64M\nfirmware: f\nkernel: k\ninitrd: 3\n', /vm.yaml: initrd: expected a file path, got 3/],
  ])('names the boot field and the problem: %j', (text, msg) => {
    expect(() => parseVmConfig(text, '/x', 'vm.yaml')).toThrow(msg);
  });

  it('takes the on_poweroff, on_reboot and on_crash policies, with xl defaults', () => {
    const c = parseVmConfig(`${ok}on_poweroff: preserve\non_crash: restart\n`, '/x');
    expect(c).toMatchObject({ onPoweroff: 'preserve', onReboot: 'restart', onCrash: 'restart' });
    expect(parseVmConfig(`${ok}on_reboot: destroy\n`, '/x').onReboot).toBe('destroy');
    expect(() => parseVmConfig(`${ok}on_reboot: reboot\n`, '/x', 'vm.yaml')).toThrow('vm.yaml: on_reboot: "reboot" is not one of destroy, restart, preserve');
    expect(() => parseVmConfig(`${ok}on_crash: 1\n`, '/x', 'vm.yaml')).toThrow('vm.yaml: on_crash: 1 is not one of destroy, restart, preserve');
  });

  it.each([
    ['name: [x\n', /vm.yaml: yaml: not valid YAML at line 2/],
    ['- a\n- b\n', /vm.yaml: \(top level\): expected a mapping/],
    ['memory: 64M\nimage: a.elf\n', /vm.yaml: name: is required/],
    ['name: Hello_World\nmemory: 64M\nimage: a\n', /vm.yaml: name: "Hello_World" must be 1-63 characters/],
    ['name: 7\nmemory: 64M\nimage: a\n', /vm.yaml: name: expected a string, got 7/],
    ['name: a\nimage: a\n', /vm.yaml: memory: is required/],
    ['name: a\nmemory: lots\nimage: a\n', /vm.yaml: memory: "lots" is not a size like 64M/],
    ['name: a\nmemory: 64K\nimage: a\n', /vm.yaml: memory: "64K" is not a size/],
    ['name: a\nmemory: 8G\nimage: a\n', /vm.yaml: memory: 8192 MiB is outside 1 MiB .. 4096 MiB/],
    ['name: a\nmemory: 0\nimage: a\n', /vm.yaml: memory: 0 MiB is outside/],
    ['name: a\nmemory: 1.5\nimage: a\n', /vm.yaml: memory: 1.5 is not a whole number of MiB/],
    ['name: a\nmemory: 64M\n', /vm.yaml: image: is required/],
    ['name: a\nmemory: 64M\nimage: ""\n', /vm.yaml: image: expected a file path, got ""/],
    ['name: a\nmemory: 64M\nimage: a\nvcpus: 4\n', /vm.yaml: vcpus: 4: only 1 vCPU per VM is supported so far/],
    ['name: a\nmemory: 64M\nimage: a\nmemroy: 1\n', /vm.yaml: memroy: unknown field \(known: name, memory, image, vcpus, mode, cpu\)/],
  ])('names the field and the problem: %j', (text, msg) => {
    expect(() => parseVmConfig(text, '/x', 'vm.yaml')).toThrow(msg);
  });
});
