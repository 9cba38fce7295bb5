import type { DocStore } from '../storage/doc-store.js'
import type { Logger } from '../observe/logger.js'
import type { Metrics } from '../observe/metrics.js'
import type { ReauthenticateHook } from '../transport/auth-hook.js'
import type { Connection } from './connection.js'
import type { ExpiryClock } from './expiry-clock.js'
import type { LiveDocBudget } from './live-doc-budget.js'
import type { DocUpdateBus } from '../cluster/doc-update-bus.js'

export interface SyncConfig {
  /** Largest accepted message; ws closes the socket with 1009 (CloseCode.messageTooLarge) above it. */
  maxMessageBytes: number
  /** A socket whose unsent data (pongs included) passes this is closed with 4408. */
  maxBufferedBytes: number
  /** Ping every socket this often and drop those that did not answer the last ping (0 = off). */
  pingIntervalMs: number
  /** How long a document stays in memory after its last connection closes. */
  unloadGraceMs: number
  /** Compact a document's log into a snapshot past this many updates… */
  compactMaxEntries: number
  /** …or past this many bytes. */
  compactMaxBytes: number
  /** Presence of a device on another node is dropped when not renewed for this long. */
  presenceTimeoutMs: number
}

/** What the sync core needs from its surroundings; `app.ts` builds it. */
export interface SyncContext {
  config: SyncConfig
  store: DocStore
  logger: Logger
  metrics: Metrics
  reauthenticate?: ReauthenticateHook
  /** Closes each socket when its credential expires. */
  expiry: ExpiryClock<Connection>
  /** Bytes of big documents that may be kept as live Y.Docs (room.ts). */
  liveDocs: LiveDocBudget
  /** Fans accepted updates out to the document's room here and on the other nodes. */
  updates: DocUpdateBus
  /** Runs between loading a document from storage and subscribing to its updates (tests force races there). */
  afterLoad?: (doc: string) => Promise<void>
  /** Told of each socket attached to a document and of its close (analytics). */
  activity?: { opened (c: Connection): void, closed (c: Connection): void }
}
