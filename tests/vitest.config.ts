import { defineConfig } from 'vitest/config';

// Whole-system tests start real processes; run files one at a time so two labs never
// fight over this machine's two cores, and give each test room for process start-up.
export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
