import { defineConfig } from 'vitest/config'

/**
 * Cluster mode's tests (`npm run test:cluster`): several nodes on the machine's PostgreSQL and Redis,
 * node processes killed and restarted, an own Redis and PostgreSQL where one is crashed, nginx in front.
 */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2
  }
})
