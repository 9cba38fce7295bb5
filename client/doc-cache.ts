import type * as Y from 'yjs'
import type { UnsyncedState } from './unsynced.js'

/**
 * The local copy of every opened document: what makes offline open instant and offline edits
 * durable. `open` loads the cached state into the doc (origin = the cache object) and persists every
 * later update, whatever its origin, until `close`.
 */
export interface DocCache {
  open (name: string, doc: Y.Doc): Promise<CachedDoc>
  /** Release the storage handle; cached data stays. */
  close (): Promise<void>
  /** Delete every cached document of this profile. Open documents must be closed first. */
  wipe (): Promise<void>
}

export interface CachedDoc {
  /** The origin used when cached updates are applied to the doc. */
  readonly origin: unknown
  /** Resolves once every update seen so far is written. */
  flush (): Promise<void>
  /** What the server was known to hold when this document was last open (undefined: never recorded). */
  loadUnsynced (): Promise<UnsyncedState | undefined>
  /** Written after the updates queued before it. */
  saveUnsynced (state: UnsyncedState): Promise<void>
  close (): Promise<void>
}
