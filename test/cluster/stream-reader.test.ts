import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { createLogger } from '../../server/observe/logger.js'
import { connectRedis } from '../../server/cluster/redis-connection.js'
import { appendToStream, appendToStreams, decodeWakeup, followersKey } from '../../server/cluster/stream-append.js'
import { field, StreamReader } from '../../server/cluster/stream-reader.js'
import { waitFor } from '../helpers/server.js'
import { REDIS_URL } from './nodes.js'
import { TcpGate } from './tcp-gate.js'

const silent = createLogger('silent')
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

/** Long enough that no sweep runs during a test: what is read was woken. */
const NO_SWEEP = 3_600_000

/** A stream reader on Redis (its subscriber through `subscriberUrl` when given) and a writer beside it. */
const setup = async (opts: { sweepMs?: number, subscriberUrl?: string, followTtlMs?: number } = {}) => {
  const prefix = `sync-test:${process.pid}:${randomBytes(4).toString('hex')}:`
  const writer = connectRedis(REDIS_URL, 'test-writer', silent)
  const readerConn = connectRedis(REDIS_URL, 'test-reader', silent)
  const subscriber = connectRedis(opts.subscriberUrl ?? REDIS_URL, 'test-wakeups', silent)
  await Promise.all([writer.connect(), readerConn.connect(), subscriber.connect()])
  const reader = new StreamReader(readerConn, subscriber, silent, { channel: `${prefix}wake:reader`, sweepMs: opts.sweepMs ?? NO_SWEEP, followTtlMs: opts.followTtlMs })
  cleanups.push(async () => {
    await reader.close()
    const keys = await writer.keys(`${prefix}*`)
    if (keys.length > 0) await writer.del(...keys)
    subscriber.disconnect()
    await Promise.all([writer.quit(), readerConn.quit()])
  })
  /**
   * Follows `key` (empty) from the start; the values of field `v` read from then on, in order. Returns
   * once registered and past the reads a follow does by itself: a marker entry was woken and read.
   */
  const follow = async (key: string): Promise<string[]> => {
    const got: string[] = []
    reader.follow(key, '0', fields => got.push(field(fields, 'v')!.toString()))
    await waitFor(async () => await writer.hexists(followersKey(key), reader.channel) === 1, 5000, 'registered')
    await append(writer, key, 'marker')
    await waitFor(() => got.includes('marker'), 5000, 'marker')
    await reader.settled() // the follow's own reads may still be due after the marker came announced
    got.length = 0
    return got
  }
  return { prefix, writer, subscriber, reader, follow }
}

const subscribers = async (redis: Redis, channel: string) => Number(((await redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number])[1])
const append = (writer: Redis, key: string, v: string) => appendToStream(writer, key, 1000, 0, ['v', v])

describe('stream reader', () => {
  it('reads a stream when its wake-up comes, not the streams that had none', async () => {
    const { prefix, writer, follow } = await setup()
    const woken = await follow(`${prefix}woken`)
    const quiet = await follow(`${prefix}quiet`)
    // Appended without a wake-up (as XADD alone does): nothing tells the reader to look.
    await writer.xadd(`${prefix}quiet`, '*', 'v', 'q1')
    await append(writer, `${prefix}woken`, 'w1')
    await append(writer, `${prefix}woken`, 'w2')
    await waitFor(() => woken.length === 2, 5000, 'woken entries')
    expect(woken).toEqual(['w1', 'w2'])
    expect(quiet).toEqual([])
    // Its own wake-up reads it, from where it was.
    await append(writer, `${prefix}quiet`, 'q2')
    await waitFor(() => quiet.length === 2, 5000, 'quiet entries')
    expect(quiet).toEqual(['q1', 'q2'])
  })

  it('a wake-up record that does not follow the last entry read brings the missed ones, in order', async () => {
    const { prefix, writer, follow } = await setup()
    const key = `${prefix}s`
    const got = await follow(key)
    await writer.xadd(key, '*', 'v', 'missed') // no wake-up
    await append(writer, key, 'announced')
    await waitFor(() => got.length === 2, 5000, 'both entries')
    expect(got).toEqual(['missed', 'announced'])
  })

  it('an entry too large for its wake-up is read from the stream', async () => {
    const { prefix, writer, follow } = await setup()
    const key = `${prefix}s`
    const got = await follow(key)
    await appendToStream(writer, key, 1000, 0, ['v', 'x'.repeat(100)], { inlineBytes: 10 })
    await append(writer, key, 'small')
    await waitFor(() => got.length === 2, 5000, 'both entries')
    expect(got).toEqual(['x'.repeat(100), 'small'])
  })

  it('one call wakes each follower once, with the records of its streams in order; its own carry no fields', async () => {
    const { prefix, writer, subscriber } = await setup()
    const [a, b, c] = [`${prefix}a`, `${prefix}b`, `${prefix}c`]
    const first = await append(writer, a, 'a0')
    // Plain subscribers (not StreamReaders), registered by hand, to read the wake-ups themselves.
    const listener = subscriber.duplicate()
    cleanups.push(async () => { listener.disconnect() })
    const messages: Array<{ channel: string, records: unknown[] }> = []
    listener.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      messages.push({ channel: channel.toString(), records: decodeWakeup(message)!.map(r => ({ ...r, fields: Array.isArray(r.fields) ? r.fields.map(String) : r.fields })) })
    })
    const [one, two] = [`${prefix}wake:one`, `${prefix}wake:two`]
    await listener.subscribe(one, two)
    await writer.hset(followersKey(a), one, Date.now() + 60_000, two, Date.now() + 60_000)
    await writer.hset(followersKey(b), one, Date.now() + 60_000)
    await writer.hset(followersKey(c), two, 1) // expired long ago: removed, not woken
    const entry = (key: string, v: string) => ({ key, maxLen: 1000, ttlMs: 0, fields: ['v', v] })
    const ids = await appendToStreams(writer, [entry(a, 'a1'), entry(b, 'b1'), entry(a, 'a2'), entry(c, 'c1')], { origin: two })
    await waitFor(() => messages.length === 2, 5000, 'wake-ups')
    expect(messages.find(m => m.channel === one)!.records).toEqual([
      { key: a, prev: first, id: ids[0], fields: ['v', 'a1'] },
      { key: b, prev: '', id: ids[1], fields: ['v', 'b1'] },
      { key: a, prev: ids[0], id: ids[2], fields: ['v', 'a2'] }
    ])
    expect(messages.find(m => m.channel === two)!.records).toEqual([
      { key: a, prev: first, id: ids[0], fields: 'own' },
      { key: a, prev: ids[0], id: ids[2], fields: 'own' }
    ])
    expect(await writer.hexists(followersKey(c), two)).toBe(0)
  })

  it('entries appended before the follow are read from its start id', async () => {
    const { prefix, writer, reader } = await setup()
    const key = `${prefix}s`
    const first = await append(writer, key, 'a')
    await append(writer, key, 'b')
    await append(writer, key, 'c')
    const got: string[] = []
    reader.follow(key, first, fields => got.push(field(fields, 'v')!.toString()))
    await waitFor(() => got.length === 2, 5000, 'entries after the start id')
    expect(got).toEqual(['b', 'c'])
  })

  it('a wake-up lost while the subscriber connection was cut: the entry is read when it is back', async () => {
    const target = new URL(REDIS_URL)
    const gate = await TcpGate.start({ host: target.hostname, port: Number(target.port || 6379) })
    cleanups.push(() => gate.close())
    const { prefix, writer, subscriber, reader, follow } = await setup({ subscriberUrl: `redis://127.0.0.1:${gate.port}` })
    const key = `${prefix}s`
    const got = await follow(key)
    await append(writer, key, 'before')
    await waitFor(() => got.length === 1, 5000, 'entry before the cut')
    const closed = new Promise(resolve => subscriber.once('close', resolve))
    gate.cut()
    await closed
    await waitFor(async () => await subscribers(writer, reader.channel) === 0, 5000, 'unsubscribed by the cut')
    await append(writer, key, 'during') // its wake-up reaches nobody
    gate.restore()
    await waitFor(() => got.length === 2, 10_000, 'entry appended during the cut')
    expect(got).toEqual(['before', 'during'])
    // Subscribed again: later wake-ups arrive.
    await append(writer, key, 'after')
    await waitFor(() => got.length === 3, 5000, 'entry after the cut')
    expect(got).toEqual(['before', 'during', 'after'])
  })

  it('junk published on the wake-up channel delivers nothing: the streams are read instead', async () => {
    const { prefix, writer, reader, follow } = await setup()
    const key = `${prefix}s`
    const got = await follow(key)
    for (const junk of ['', 'x', '5:abc', '-3:abc', '99999999999:', '1:a', '2:ab1:', '0:0:1:v']) await writer.publish(reader.channel, junk)
    await writer.xadd(key, '*', 'v', 'real') // no wake-up: only a read finds it
    await writer.publish(reader.channel, 'junk')
    await waitFor(() => got.length === 1, 5000, 'the real entry')
    expect(got).toEqual(['real'])
  })

  it('the sweep reads entries appended without a wake-up', async () => {
    const { prefix, writer, follow } = await setup({ sweepMs: 100 })
    const key = `${prefix}s`
    const got = await follow(key)
    await writer.xadd(key, '*', 'v', 'x')
    await waitFor(() => got.length === 1, 5000, 'swept entry')
    expect(got).toEqual(['x'])
  })

  it('an unfollowed stream is no longer read; following it again reads from the new start id', async () => {
    const { prefix, writer, reader, follow } = await setup()
    const key = `${prefix}s`
    const got = await follow(key)
    await append(writer, key, 'a')
    await waitFor(() => got.length === 1, 5000, 'first entry')
    reader.unfollow(key)
    expect(reader.position(key)).toBeUndefined()
    await waitFor(async () => await writer.hexists(followersKey(key), reader.channel) === 0, 5000, 'unregistered')
    const b = await append(writer, key, 'b')
    await append(writer, key, 'c')
    const again: string[] = []
    reader.follow(key, b, fields => again.push(field(fields, 'v')!.toString()))
    await waitFor(() => again.length === 1, 5000, 'entry after the new start id')
    expect(again).toEqual(['c'])
    expect(got).toEqual(['a'])
  })
  it('renews its registrations before they expire; a follow undone in the same turn registers nothing', async () => {
    const { prefix, writer, reader, follow } = await setup({ followTtlMs: 1500 })
    const key = `${prefix}s`
    await follow(key)
    const first = Number(await writer.hget(followersKey(key), reader.channel))
    // Renewed every ttl / 3: a later expiry, and the hash itself kept alive.
    await waitFor(async () => Number(await writer.hget(followersKey(key), reader.channel)) > first, 5000, 'renewed registration')
    expect(await writer.pttl(followersKey(key))).toBeGreaterThan(0)
    const brief = `${prefix}brief`
    reader.follow(brief, '0', () => {})
    reader.unfollow(brief)
    await reader.settled()
    await follow(`${prefix}other`) // a later registration call has gone out and been answered
    expect(await writer.exists(followersKey(brief))).toBe(0)
  })
})

describe('wake-up decoding', () => {
  it('takes stream, previous id, id and fields or a mark; anything malformed is undefined', () => {
    const records = decodeWakeup(Buffer.from('1:s3:1-13:1-21:21:v2:hi' + '1:s3:1-23:1-31:o' + '1:t0:3:1-11:r'))
    expect(records?.map(r => ({ ...r, fields: Array.isArray(r.fields) ? r.fields.map(String) : r.fields }))).toEqual([
      { key: 's', prev: '1-1', id: '1-2', fields: ['v', 'hi'] },
      { key: 's', prev: '1-2', id: '1-3', fields: 'own' },
      { key: 't', prev: '', id: '1-1', fields: 'read' }
    ])
    expect(decodeWakeup(Buffer.from(''))).toEqual([])
    for (const junk of ['1:s', '1:s3:1-13:1-2', '1:s3:1-13:1-21:x', '1:s3:1-13:1-21:3', '1:s3:1-13:1-21:21:v', '-1:a', ':', '1a:b', '5:ab', '12345678901:x', '1:s0:3:1-11:2']) {
      expect(decodeWakeup(Buffer.from(junk))).toBeUndefined()
    }
  })
})
