import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

/**
 * The server's module graph must not load rate-limiter-flexible's index, which requires every limiter
 * the package ships (Redis, Mongo, DynamoDB, …), code the server never runs.
 */
describe('lean imports', () => {
  it('loading the server does not load rate-limiter-flexible/index.js', () => {
    const script = `
      await import('./server/app.ts')
      const { createRequire } = await import('node:module')
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter(p => p.includes('rate-limiter-flexible'))
      console.log(JSON.stringify(loaded))`
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 50_000 })
    const loaded: string[] = JSON.parse(out.trim().split('\n').pop()!)
    expect(loaded.some(p => p.endsWith('RateLimiterMemory.js'))).toBe(true)
    expect(loaded.filter(p => /rate-limiter-flexible[/\\]index\.js$/.test(p))).toEqual([])
  })
})
