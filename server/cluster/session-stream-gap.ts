import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import type { StreamReader } from './stream-reader.js'

/** A stream id `ms-seq` as a number that orders like the id. */
const idValue = (id: string): bigint => {
  const [ms, seq] = id.split('-')
  return BigInt(ms ?? 0) * 2n ** 64n + BigInt(seq ?? 0)
}

/**
 * Whether entries after `lastId` may be gone from the stream `key`: entries were deleted from it
 * (trimmed: `entries-added` exceeds its length), some were added after `lastId`, and none of those is
 * left before the first entry still there. Also true when the stream no longer exists (Redis
 * restarted without its data, or it was deleted) or Redis is too old to tell (before 7.0). At worst a
 * needless re-check; never a missed one.
 */
export const streamLostEntries = async (redis: Redis, key: string, lastId: string): Promise<boolean> => {
  let reply: unknown[]
  try {
    reply = await redis.call('XINFO', 'STREAM', key) as unknown[]
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return true
    throw err
  }
  const info = new Map<string, unknown>()
  for (let i = 0; i + 1 < reply.length; i += 2) info.set(String(reply[i]), reply[i + 1])
  const added = info.get('entries-added')
  const lastGenerated = info.get('last-generated-id')
  if (added === undefined || lastGenerated === undefined) return true
  const length = Number(info.get('length'))
  if (Number(added) <= length) return false // nothing was ever deleted
  if (idValue(String(lastGenerated)) <= idValue(lastId)) return false // nothing new since lastId
  const first = info.get('first-entry') as [unknown, unknown] | null | undefined
  return !first || idValue(String(first[0])) > idValue(lastId)
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
