/**
 * Node entry (`@session-sync/client/node`): a profile directory (0600 files + LevelDB cache) and the
 * `ws` WebSocket, plus the whole platform-neutral API. Needs the `ws` and `level` packages.
 */
import WebSocket from 'ws'
import { LevelDocCache } from './cache-level.js'
import { SyncClient, type SyncClientOptions } from './client.js'
import { FileProfileStore } from './profile-file.js'
import type { WebSocketCtor } from './provider.js'

export type NodeClientOptions = Omit<SyncClientOptions, 'store' | 'cache' | 'WebSocket'> & {
  /** One directory per device profile; reuse it across runs and re-logins. */
  profileDir: string
  WebSocket?: WebSocketCtor
}

export const createNodeClient = (opts: NodeClientOptions): Promise<SyncClient> => {
  const store = new FileProfileStore(opts.profileDir)
  return SyncClient.create({
    ...opts,
    store,
    cache: new LevelDocCache(store.cacheDir),
    WebSocket: opts.WebSocket ?? (WebSocket as unknown as WebSocketCtor)
  })
}

export { FileProfileStore, LevelDocCache }
export * from './index.js'
