import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

// The runtime suite (npm test runs it as its own suite): our outputs in the runtimes users run them
// in (llama.cpp through its harness and node-llama-cpp). The harness build in beforeAll can take
// minutes on a fresh machine.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['tests/runtimes/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
