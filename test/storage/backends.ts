import path from 'node:path'
import { Level } from 'level'
import { createLogger, type Logger } from '../../server/observe/logger.js'
import type { DocStore } from '../../server/storage/doc-store.js'
import type { SessionStore } from '../../server/storage/session-store.js'
import { LevelDocStore } from '../../server/storage/level/doc-store.js'
import { LevelSessionStore } from '../../server/storage/level/session-store.js'
import { openPostgresStores } from '../../server/storage/postgres/index.js'
import { tempDir } from '../helpers/server.js'
import { useTestDatabase } from './postgres.js'

export interface Stores {
  docs: DocStore
  sessions: SessionStore
  /** Flush and close, as a server does on shutdown. */
  close(): Promise<void>
}

export interface StoreOptions { flushIntervalMs?: number, maxBatchOps?: number, logger?: Logger }

/**
 * One storage backend for the contract tests. `place()` is where data lives (a LevelDB directory, a
 * PostgreSQL database shared by the file's tests, which therefore use unique names); `open(place)`
 * opens stores on it, and opening the same place again after `close()` is a server restart.
 */
export interface Backend {
  name: string
  place(): Promise<string>
  open(place: string, opts?: StoreOptions): Promise<Stores>
}

const defaults = (opts: StoreOptions) => ({
  flushIntervalMs: opts.flushIntervalMs ?? 5,
  maxBatchOps: opts.maxBatchOps ?? 1000,
  logger: opts.logger ?? createLogger('silent')
})

export const levelBackend = (): Backend => ({
  name: 'level',
  place: () => tempDir('store-contract-'),
  async open (dir, opts = {}) {
    const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' })
    await db.open()
    const docs = new LevelDocStore(db, { ...defaults(opts), fsync: false })
    return { docs, sessions: new LevelSessionStore(db), close: async () => { await docs.close(); await db.close() } }
  }
})

/** Registers the file's database hooks: call at the top level of a test file. */
export const postgresBackend = (): Backend => {
  const db = useTestDatabase()
  return {
    name: 'postgres',
    place: async () => db.url,
    async open (url, opts = {}) {
      const stores = await openPostgresStores(url, defaults(opts))
      return { docs: stores.docs, sessions: stores.sessions, close: () => stores.close() }
    }
  }
}
