import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadConfig, ConfigError, usage } from '../../server/config.js'

describe('config', () => {
  it('has safe defaults: loopback, ./data, 1 MiB messages', () => {
    const c = loadConfig([], {})
    expect(c.host).toBe('127.0.0.1')
    expect(c.port).toBe(4321)
    expect(c.dataDir).toMatch(/\/data$/)
    expect(c.maxMessageBytes).toBe(1024 * 1024)
    expect(c.insecureNoAuth).toBe(false)
  })

  it('flags win over environment variables, which win over defaults', () => {
    const c = loadConfig(['--port', '9000'], { SYNC_PORT: '8000', SYNC_FLUSH_MS: '25', SYNC_FSYNC: 'true' })
    expect(c.port).toBe(9000)
    expect(c.flushIntervalMs).toBe(25)
    expect(c.fsync).toBe(true)
  })

  it('rejects unknown flags and bad numbers with a clear message', () => {
    expect(() => loadConfig(['--nope'], {})).toThrow(ConfigError)
    expect(() => loadConfig(['--port', 'abc'], {})).toThrow(/--port must be a non-negative integer/)
    expect(() => loadConfig([], { SYNC_MAX_MESSAGE_BYTES: '10' })).toThrow(/at least 1024/)
    expect(() => loadConfig(['--device-code-ttl-ms', '1000'], {})).toThrow(/--device-code-ttl-ms must be at least 60000/)
    expect(() => loadConfig(['--verification-uri', 'example.com/device'], {})).toThrow(/--verification-uri must be an http\(s\) URL/)
    for (const bad of ['https://example.com', 'example.com:443', 'example.com/x', '-bad.com']) {
      expect(() => loadConfig([`--rp-id=${bad}`], {}), bad).toThrow(/--rp-id must be a domain name/)
    }
    expect(loadConfig(['--rp-id', 'sync.example.com'], {}).rpId).toBe('sync.example.com')
  })

  it('--redis-url needs --store postgres, and is off by default', () => {
    expect(loadConfig([], {}).redisUrl).toBe('')
    expect(() => loadConfig(['--redis-url', 'redis://127.0.0.1:6379'], {})).toThrow(/--redis-url needs --store postgres/)
    const c = loadConfig(['--store', 'postgres', '--database-url', 'postgres://db/x'], { SYNC_REDIS_URL: 'redis://r:6379', SYNC_REDIS_PREFIX: 'app1:' })
    expect([c.redisUrl, c.redisPrefix]).toEqual(['redis://r:6379', 'app1:'])
  })

  it('usage lists every flag with its env var', () => {
    expect(usage()).toMatch(/--data-dir\s+SYNC_DATA_DIR/)
  })

  it('the configuration reference documents every setting with its flag and environment variable; README rows match it', async () => {
    const { SETTINGS } = await import('../../server/config.js')
    const read = (file: string) => fs.readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
    const reference = read('docs/operations.md')
    const rows = (text: string) => text.split('\n').filter(l => l.startsWith('| `--'))
    for (const s of Object.values(SETTINGS)) {
      expect(reference, s.flag).toContain(`| \`--${s.flag}\` | \`${s.env}\` |`)
    }
    // README shows a subset of the same rows (links aside, which are relative to each file).
    const unlinked = (l: string) => l.replace(/\]\((docs\/)?/g, '](')
    const known = new Set(rows(reference).map(unlinked))
    const shown = rows(read('README.md'))
    expect(shown.length).toBeGreaterThan(5)
    for (const row of shown) expect(known.has(unlinked(row)), row).toBe(true)
  })
})
