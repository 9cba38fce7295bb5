/**
 * Single-use challenges of two-request ceremonies (WebAuthn): issued by one request, taken by the
 * next. In memory for one node (memory-challenge-store.ts), on Redis for a cluster
 * (redis-challenge-store.ts), so the second request may reach any node.
 */
export interface ChallengeStore {
  /**
   * Keeps `challenge` under `key` for `ttlMs`, replacing one issued under it before. With `ip`, the
   * key is one of that address's open attempts, of which only the newest few are kept. Throws a
   * `rate_limited` Failure when no more can be kept.
   */
  issue (key: string, challenge: string, ttlMs: number, ip?: string): Promise<void>
  /** The live challenge under `key`, removed whatever the outcome; undefined when there is none. */
  take (key: string): Promise<string | undefined>
}

/** Open attempts kept per IP: the oldest goes when another comes. */
export const MAX_PENDING_PER_IP = 20
