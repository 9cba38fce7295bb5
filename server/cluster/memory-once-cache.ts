import type { OnceCache } from './once-cache.js'

/** Expired ids are dropped at most this often (a sweep visits every id). */
const SWEEP_EVERY_MS = 10_000

/**
 * One process's used ids. A restarted process has no history for the first ttl, which a single node
 * accepts (proofs are fresh for 2 × the skew window only). Memory is bounded by the ids claimed
 * within one ttl, and callers rate-limit before they claim.
 */
export class MemoryOnceCache implements OnceCache {
  private readonly seen = new Map<string, number>()
  private lastSweep = 0

  async claim (scope: string, id: string, ttlMs: number): Promise<boolean> {
    return this.claimNow(`${scope}:${id}`, ttlMs, Date.now())
  }

  /** Synchronous form, for the Redis cache's fallback. */
  claimNow (key: string, ttlMs: number, now: number): boolean {
    if (now - this.lastSweep > SWEEP_EVERY_MS) {
      for (const [k, exp] of this.seen) if (exp <= now) this.seen.delete(k)
      this.lastSweep = now
    }
    const exp = this.seen.get(key)
    if (exp !== undefined && exp > now) return false
    this.seen.set(key, now + ttlMs)
    return true
  }
}
