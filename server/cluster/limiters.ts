import type { RateLimiterAbstract } from 'rate-limiter-flexible'

/** What a rate limit is made of: `points` per key per `duration` seconds; `keyPrefix` names the limit. */
export interface LimiterOptions { keyPrefix: string, points: number, duration: number }

/**
 * Makes the `rate-limiter-flexible` limiters behind the auth limits and hourly budgets: in memory for
 * one node (memory-limiters.ts), on Redis for a cluster (redis-limiters.ts), so a budget holds across
 * every node. Each `keyPrefix` must name one limit only.
 */
export type LimiterFactory = (opts: LimiterOptions) => RateLimiterAbstract
