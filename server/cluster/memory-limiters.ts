import { RateLimiterMemory } from 'rate-limiter-flexible'
import type { LimiterFactory } from './limiters.js'

/** Counters in this process: one node. */
export const memoryLimiters: LimiterFactory = opts => new RateLimiterMemory(opts)
