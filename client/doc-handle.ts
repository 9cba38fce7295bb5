import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { CachedDoc } from './doc-cache.js'
import type { ProviderEvents, SyncProvider, SyncStatus } from './provider.js'

/** One open document: the Y.Doc, its live sync and its local cache. */
export class DocHandle {
  private closed = false

  constructor (
    readonly name: string,
    readonly doc: Y.Doc,
    readonly provider: SyncProvider,
    private readonly cached: CachedDoc,
    private readonly onClose: (h: DocHandle) => void
  ) {}

  get awareness (): Awareness { return this.provider.awareness }
  get status (): SyncStatus { return this.provider.status }
  get hasUnsyncedChanges (): boolean { return this.provider.hasUnsyncedChanges }
  /** When the provider's next reconnect attempt runs (epoch ms), or null (connected, or not retrying). */
  get nextRetryAt (): number | null { return this.provider.nextRetryAt }
  /** Skip the rest of the reconnect backoff ("Retry now"). */
  retryNow (): void { this.provider.retryNow() }

  on<K extends keyof ProviderEvents> (event: K, cb: (arg: ProviderEvents[K]) => void): () => void {
    return this.provider.on(event, cb)
  }

  whenSynced (): Promise<void> { return this.provider.whenSynced() }

  /** Resolves once every change so far is in the local cache (not necessarily on the server). */
  flush (): Promise<void> { return this.cached.flush() }

  /** Stop syncing and release the cache; the Y.Doc stays usable as a plain in-memory doc. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.cached.saveUnsynced(this.provider.unsyncedState()).catch(() => {})
    this.provider.destroy()
    await this.cached.close()
    this.onClose(this)
  }
}
