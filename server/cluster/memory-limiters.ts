// By path, not from the package's index, which loads every limiter it ships (identity/rate-limiter-flexible.d.ts).
import RateLimiterMemory from 'rate-limiter-flexible/lib/RateLimiterMemory.js'
import type { LimiterFactory } from './limiters.js'

/** Counters in this process: one node. */
export const memoryLimiters: LimiterFactory = opts => new RateLimiterMemory(opts)
