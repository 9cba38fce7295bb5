import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../server/observe/logger.js'
import { RedisDocUpdateBus } from '../../server/cluster/redis-doc-update-bus.js'
import { connectRedis } from '../../server/cluster/redis-connection.js'
import { StreamReader } from '../../server/cluster/stream-reader.js'
import { REDIS_URL } from './nodes.js'

const silent = createLogger('silent')
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

const bus = async (trimAfterMs?: number, appendIntervalMs?: number) => {
  const prefix = `sync-test:${process.pid}:${randomBytes(4).toString('hex')}:`
  const writer = connectRedis(REDIS_URL, 'test-writer', silent)
  const readerConn = connectRedis(REDIS_URL, 'test-reader', silent)
  const subscriber = connectRedis(REDIS_URL, 'test-wakeups', silent)
  await Promise.all([writer.connect(), readerConn.connect(), subscriber.connect()])
  const reader = new StreamReader(readerConn, subscriber, silent, { channel: `${prefix}wake:test` })
  cleanups.push(async () => {
    const keys = await writer.keys(`${prefix}*`)
    if (keys.length > 0) await writer.del(...keys)
    await reader.close()
    await Promise.all([writer.quit(), readerConn.quit(), subscriber.quit()])
  })
  return { writer, prefix, bus: new RedisDocUpdateBus(writer, reader, { prefix, nodeId: 'n1', logger: silent, trimAfterMs, appendIntervalMs }) }
}

describe('document streams', () => {
  it('a stored snapshot trims the stream up to its position, never entries younger than the trim delay', async () => {
    const young = await bus()
    const old = await bus(0)
    for (const { writer, prefix, bus: b } of [young, old]) {
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push((await writer.xadd(`${prefix}doc:d`, '*', 'u', 'x'))!)
      await b.trim('d', ids[3]!)
    }
    // Entries before the position go once they are old enough (here at once); the position stays.
    expect(await old.writer.xlen(`${old.prefix}doc:d`)).toBe(2)
    // The same trim with the default delay: every entry is younger, so all stay.
    expect(await young.writer.xlen(`${young.prefix}doc:d`)).toBe(5)
  })

  it('sends the first update at the end of its turn, and those of the next turns within the interval in one later call', async () => {
    // An interval far longer than the test: the updates after the first wait for it (or for close).
    const { writer, prefix, bus: b } = await bus(undefined, 60_000)
    const stream = `${prefix}doc:d`
    const publish = (byte: number) => b.publish('d', Uint8Array.of(byte), Uint8Array.of(byte), undefined, '')
    // The writer connection answers in order: a PING sent after a call is answered after it.
    const settled = () => writer.ping()
    publish(1)
    await new Promise(resolve => setImmediate(resolve))
    await settled()
    expect(await writer.xlen(stream)).toBe(1)
    publish(2)
    await new Promise(resolve => setImmediate(resolve))
    publish(3)
    await new Promise(resolve => setImmediate(resolve))
    await settled()
    expect(await writer.xlen(stream)).toBe(1)
    // Closing sends what waits, in order.
    await b.close()
    await settled()
    const entries = await writer.xrangeBuffer(stream, '-', '+')
    expect(entries.map(([, fields]) => fields[fields.length - 1]![0])).toEqual([1, 2, 3])
  })
})
