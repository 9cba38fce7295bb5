import type pg from 'pg'
import type { Logger } from '../../observe/logger.js'
import { migrate } from './migrate.js'
import { createPool, describeDatabase } from './pool.js'
import { PostgresDocStore, type PostgresDocStoreOptions } from './doc-store.js'
import { PostgresSessionStore } from './session-store.js'
import { PostgresKeyStore } from './key-store.js'

export { PostgresDocStore, PostgresSessionStore, PostgresKeyStore }

export interface PostgresStores {
  pool: pg.Pool
  docs: PostgresDocStore
  sessions: PostgresSessionStore
  /** The access-token signing keys. */
  keys: PostgresKeyStore
  /** Close the document store (flushing it), then the pool. */
  close(): Promise<void>
}

/**
 * Both stores on one pool, the schema migrated first. Fails with a message naming the database by
 * host, port and name only: the URL may carry a password.
 */
export const openPostgresStores = async (url: string, docOptions: PostgresDocStoreOptions): Promise<PostgresStores> => {
  const logger: Logger = docOptions.logger
  const pool = createPool(url, logger)
  try {
    await migrate(pool, logger)
  } catch (err) {
    await pool.end().catch(() => {})
    throw new Error(`PostgreSQL at ${describeDatabase(url)}: ${(err as Error).message}`, { cause: err })
  }
  const docs = new PostgresDocStore(pool, docOptions)
  const sessions = new PostgresSessionStore(pool)
  return {
    pool,
    docs,
    sessions,
    keys: new PostgresKeyStore(pool),
    async close () {
      try {
        await docs.close()
      } finally {
        await pool.end()
      }
    }
  }
}
