import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

// The llama.cpp comparison suite (npm test runs it as its own suite): the harness build in
// beforeAll can take minutes on a fresh machine.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../../..', import.meta.url)),
    include: ['tests/runtimes/llama-harness/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
