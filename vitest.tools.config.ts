import { defineConfig } from 'vitest/config'

/** The load and bench tools' own tests (`npm run test:tools`), apart from the product suite. */
export default defineConfig({
  test: {
    include: ['tools/**/test/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2
  }
})
