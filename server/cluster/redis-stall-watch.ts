import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'

/** How often the watched connection is pinged. Its `commandTimeout` says how long an answer may take. */
export const STALL_PING_EVERY_MS = 1000

/**
 * Reconnects `redis` when it looks connected but Redis stopped answering (the process is stopped, or
 * the network drops packets without closing the connection): a PING that fails while the status is
 * still `ready` (its command timeout passed) drops the connection. Until the reconnection's ready
 * check is answered the status is not `ready`, so the identity state on this connection uses its
 * per-node fallback at once instead of waiting on Redis, and the commands sent to the stalled
 * connection are failed instead of piling up. At most one PING is out at a time. Returns `stop`.
 */
export const watchStalls = (redis: Redis, logger: Logger, everyMs = STALL_PING_EVERY_MS, message = 'Redis stopped answering: reconnecting, identity state is kept per node until it answers'): () => void => {
  let waiting = false
  const timer = setInterval(() => {
    if (waiting || redis.status !== 'ready') return
    waiting = true
    redis.ping()
      .catch((err: Error) => {
        if (redis.status !== 'ready') return
        logger.error({ redis: redis.options.connectionName, err: err.message }, message)
        redis.disconnect(true)
      })
      .finally(() => { waiting = false })
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
