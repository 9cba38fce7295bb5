import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { streamLostEntries } from '../../server/cluster/session-stream-gap.js'
import { REDIS_URL } from './nodes.js'

const redis = new Redis(REDIS_URL, { protocol: 2 })
const prefix = `sync-test:${process.pid}:${randomBytes(4).toString('hex')}:gap:`
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

describe('streamLostEntries: did a reader at lastId miss trimmed entries?', () => {
  it('tells a trimmed gap from a stream that only grew or lost entries already read', async () => {
    const key = `${prefix}s`
    expect(await streamLostEntries(redis, key, '0-0')).toBe(true) // no stream: cannot tell
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push((await redis.xadd(key, '*', 'i', String(i)))!)
    expect(await streamLostEntries(redis, key, ids[1]!)).toBe(false) // never trimmed
    expect(await streamLostEntries(redis, key, '0-0')).toBe(false)
    await redis.xtrim(key, 'MAXLEN', 2) // entries 0 and 1 are gone
    expect(await streamLostEntries(redis, key, ids[2]!)).toBe(false) // read past the first entry left
    expect(await streamLostEntries(redis, key, ids[3]!)).toBe(false) // read everything
    expect(await streamLostEntries(redis, key, ids[0]!)).toBe(true) // entry 1 was missed
    // Read up to 1, which the stream no longer shows: nothing was missed, but nothing tells (a needless re-check).
    expect(await streamLostEntries(redis, key, ids[1]!)).toBe(true)
    await redis.xtrim(key, 'MAXLEN', 0)
    expect(await streamLostEntries(redis, key, ids[2]!)).toBe(true) // entry 3 was missed
    expect(await streamLostEntries(redis, key, ids[3]!)).toBe(false)
  })
})
