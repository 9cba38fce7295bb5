import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Cluster mode has its own suite (vitest.cluster.config.ts, `npm run test:cluster`).
    exclude: ['test/cluster/**', '**/node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: more parallel files only make the real-socket tests contend.
    maxWorkers: 2
  }
})
