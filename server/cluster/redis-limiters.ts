import type { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible'
import type { LimiterFactory } from './limiters.js'

/**
 * Counters on Redis (`<prefix>rl:<limit>:<key>`), shared by every node. While Redis is not ready, each
 * limiter counts in this node's memory instead (the library's insurance limiter, same points and
 * window): limits still hold per node, so a cluster of n nodes allows at most n times the budget
 * until Redis is back, and nothing is refused for the outage itself. Counts made in memory are not
 * copied to Redis afterwards.
 */
export const redisLimiters = (redis: Redis, prefix: string): LimiterFactory => opts => new RateLimiterRedis({
  storeClient: redis,
  keyPrefix: `${prefix}rl:${opts.keyPrefix}`,
  points: opts.points,
  duration: opts.duration,
  // Straight to the insurance limiter instead of queueing behind a reconnecting connection.
  rejectIfRedisNotReady: true,
  insuranceLimiter: new RateLimiterMemory(opts)
})
