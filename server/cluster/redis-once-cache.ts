import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'
import { MemoryOnceCache } from './memory-once-cache.js'
import type { OnceCache } from './once-cache.js'

/**
 * Used ids shared by every node: `SET <prefix>once:<scope>:<id> 1 NX PX ttl`, so the first node to
 * claim an id wins and Redis forgets it after the ttl.
 *
 * While Redis cannot be reached, ids are claimed in this node's memory instead (and logged once):
 * a replay on the same node is still refused, one on another node is not. Refusing every sign-in and
 * refresh during a Redis outage would cost more than this narrow window, since a replayed proof is
 * bound to one method and URL, fresh for two minutes, and the token it carries is rotated or rate limited.
 * Ids claimed in memory stay in memory: other nodes do not learn them when Redis is back.
 */
export class RedisOnceCache implements OnceCache {
  private readonly fallback = new MemoryOnceCache()
  private failing = false

  constructor (private readonly redis: Redis, private readonly prefix: string, private readonly logger: Logger) {}

  async claim (scope: string, id: string, ttlMs: number): Promise<boolean> {
    const key = `${this.prefix}once:${scope}:${id}`
    try {
      if (this.redis.status !== 'ready') throw new Error(`connection ${this.redis.status}`)
      const set = await this.redis.set(key, '1', 'PX', ttlMs, 'NX')
      if (this.failing) this.logger.info({ scope }, 'single-use ids are shared through Redis again')
      this.failing = false
      // Also remember it here: a replay during a later outage is still refused on this node.
      this.fallback.claimNow(key, ttlMs, Date.now())
      return set === 'OK'
    } catch (err) {
      if (!this.failing) this.logger.error({ scope, err: (err as Error).message }, 'Redis unreachable: single-use ids are checked on this node only until it is back')
      this.failing = true
      return this.fallback.claimNow(key, ttlMs, Date.now())
    }
  }
}
