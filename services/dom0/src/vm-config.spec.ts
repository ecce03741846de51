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
    });
  });

  it('accepts the usual ways of writing a size', () => {
    expect(parseMemory('64MiB', 's')).toBe(64 << 20);
    expect(parseMemory('1G', 's')).toBe(1 << 30);
    expect(parseMemory(' 2 GiB ', 's')).toBe(2 * 2 ** 30);
    expect(parseMemory(16, 's')).toBe(16 << 20);
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
    ['name: a\nmemory: 64M\nimage: a\nmemroy: 1\n', /vm.yaml: memroy: unknown field \(known: name, memory, image, vcpus\)/],
  ])('names the field and the problem: %j', (text, msg) => {
    expect(() => parseVmConfig(text, '/x', 'vm.yaml')).toThrow(msg);
  });
});
