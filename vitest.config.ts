import { defineConfig } from 'vitest/config';

// Node-side tests. Browser tests live in tests/browser and are driven by playwright-core scripts.
export default defineConfig({
  test: {
    include: ['tests/web/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
