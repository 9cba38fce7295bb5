/**
 * Ids that may be used once within a time window: DPoP proof `jti`s, MFA challenge ids. In memory for
 * one node (memory-once-cache.ts), on Redis for a cluster (redis-once-cache.ts), so an id used on one
 * node is refused on every other.
 */
export interface OnceCache {
  /** True the first time `id` is claimed in `scope` within `ttlMs`; false when it was already used. */
  claim (scope: string, id: string, ttlMs: number): Promise<boolean>
}
