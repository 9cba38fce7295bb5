import type { Redis } from 'ioredis'
import { redisTimeId } from './redis-connection.js'
import { appendToStream } from './stream-append.js'
import type { StreamReader } from './stream-reader.js'

/** Entries kept in the key event stream (approximately): one per rotation. */
const KEY_STREAM_MAXLEN = 100

const streamKey = (prefix: string) => `${prefix}keys`

/** Tells every node of the cluster that the signing keys changed (`keys:rotate`): each re-reads them. */
export const announceKeyChange = async (redis: Redis, prefix: string, kid: string): Promise<void> => {
  await appendToStream(redis, streamKey(prefix), KEY_STREAM_MAXLEN, 0, ['k', kid])
}

/** Calls `changed` for each key change announced from now on. */
export const followKeyChanges = async (reader: StreamReader, redis: Redis, prefix: string, changed: () => void): Promise<void> => {
  reader.follow(streamKey(prefix), await redisTimeId(redis), () => changed())
}
