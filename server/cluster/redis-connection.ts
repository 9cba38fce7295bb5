import { Redis, type RedisOptions } from 'ioredis'
import type { Logger } from '../observe/logger.js'

/**
 * A connection to `--redis-url`, opened by `connect()`. RESP2, so replies have the array shapes the
 * stream code reads. It reconnects on its own; a command issued meanwhile waits for two reconnection
 * attempts and then fails, so commands do not pile up in memory while Redis is away. With
 * `commandTimeout`, a command (the ready check's included) that gets no answer that long fails.
 * Errors are logged without the URL (it may carry a password).
 */
export const connectRedis = (url: string, name: string, logger: Logger, options: RedisOptions = {}): Redis => {
  const redis = new Redis(url, { protocol: 2, connectionName: name, maxRetriesPerRequest: 2, lazyConnect: true, ...options })
  let failing = false
  redis.on('error', (err: Error) => {
    if (!failing) logger.error({ redis: name, err: err.message }, 'Redis connection failed; reconnecting')
    failing = true
  })
  redis.on('ready', () => {
    if (failing) logger.info({ redis: name }, 'Redis connection is back')
    failing = false
  })
  return redis
}

/** Redis's clock as a stream id (ms-seq), `backMs` earlier: ids in a stream are Redis server times. */
export const redisTimeId = async (redis: Redis, backMs = 0): Promise<string> => {
  const [sec, usec] = await redis.time()
  const ms = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - backMs
  return `${Math.max(0, ms)}-0`
}
