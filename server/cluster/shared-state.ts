import type { LimiterFactory } from './limiters.js'
import type { OnceCache } from './once-cache.js'
import type { OnlineCounts } from './online-counts.js'

/**
 * Identity state that every node serving the API must see alike: used single-use ids, rate-limit
 * counters and online counts. In process memory for one node, on Redis in cluster mode (index.ts).
 */
export interface SharedState {
  once: OnceCache
  limiters: LimiterFactory
  online: OnlineCounts
}
