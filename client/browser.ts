/**
 * Browser entry (`@session-sync/client/browser`): IndexedDB profile and y-indexeddb cache, the
 * platform WebSocket, plus the whole platform-neutral API.
 */
import { IdbDocCache } from './cache-idb.js'
import { SyncClient, type SyncClientOptions } from './client.js'
import { IdbProfileStore } from './profile-idb.js'
import type { WebSocketCtor } from './provider.js'

export type BrowserClientOptions = Omit<SyncClientOptions, 'store' | 'cache' | 'WebSocket'> & {
  /** Separates several accounts/profiles in one origin. Default 'default'. */
  profileId?: string
  WebSocket?: WebSocketCtor
}

export const createBrowserClient = (opts: BrowserClientOptions): Promise<SyncClient> => {
  const id = opts.profileId ?? 'default'
  return SyncClient.create({
    ...opts,
    store: new IdbProfileStore(id),
    cache: new IdbDocCache(id),
    WebSocket: opts.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketCtor)
  })
}

export { IdbProfileStore, IdbDocCache }
export * from './index.js'
