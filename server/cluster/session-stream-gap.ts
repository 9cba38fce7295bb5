import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import type { StreamReader } from './stream-reader.js'

/** A stream id `ms-seq` as a number that orders like the id. */
const idValue = (id: string): bigint => {
  const [ms, seq] = id.split('-')
  return BigInt(ms ?? 0) * 2n ** 64n + BigInt(seq ?? 0)
}

/**
 * Whether entries after `lastId` may be gone from the stream `key`: it was trimmed past `lastId`
 * (`max-deleted-entry-id`, Redis 7), or it no longer exists (Redis restarted without its data, or it
 * was deleted), or Redis is too old to tell.
 */
export const streamLostEntries = async (redis: Redis, key: string, lastId: string): Promise<boolean> => {
  let info: unknown[]
  try {
    info = await redis.call('XINFO', 'STREAM', key) as unknown[]
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return true
    throw err
  }
  const at = info.findIndex(v => String(v) === 'max-deleted-entry-id')
  if (at < 0) return true
  return idValue(String(info[at + 1])) > idValue(lastId)
}

/**
 * After the stream reader's connection comes back from a drop, finds out whether session events were
 * trimmed from the stream meanwhile (the node was away longer than the stream retains them); if so,
 * `recheck` re-reads every session with live sockets here from the store. Events still in the stream
 * are read as usual from the last id seen.
 */
export const watchSessionStreamGaps = (conn: Redis, control: Redis, reader: StreamReader, key: string, recheck: () => Promise<void>, logger: Logger): void => {
  let dropped = false
  conn.on('close', () => { dropped = true })
  conn.on('ready', () => {
    if (!dropped) return
    dropped = false
    const lastId = reader.position(key)
    if (lastId === undefined) return
    streamLostEntries(control, key, lastId)
      .then(async lost => {
        if (!lost) return
        logger.warn('session events may have been missed while Redis was away: re-checking every live socket against the store')
        await recheck()
      })
      .catch((err: Error) => logger.error({ err: err.message }, 'could not re-check live sockets after Redis came back'))
  })
}
