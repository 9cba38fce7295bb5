import pg from 'pg'
import type { Logger } from '../../observe/logger.js'

/**
 * Where a connection URL points, without user or password: for messages and logs, which must never
 * carry the URL itself (it may hold a password).
 */
export const describeDatabase = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname}`
  } catch {
    return 'the configured database'
  }
}

export interface PostgresPoolOptions {
  /** Most connections open at once (pg default 10). */
  max?: number
}

/**
 * A `pg` pool for the stores. A pooled connection that breaks while idle (database restart,
 * `pg_terminate_backend`, network) makes the pool emit `error`, which would end the process if nobody
 * listened: here it is logged and the pool opens a new connection on the next query. Connections
 * use TCP keepalive and give up connecting after 10 s, so a vanished database fails writes (which
 * are retried) instead of hanging them.
 */
export const createPool = (url: string, logger: Logger, opts: PostgresPoolOptions = {}): pg.Pool => {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: 'session-sync',
    keepAlive: true,
    connectionTimeoutMillis: 10_000
  })
  pool.on('error', err => {
    logger.warn({ err: err.message, pgCode: (err as { code?: string }).code }, 'idle PostgreSQL connection lost; the pool will reconnect')
  })
  return pool
}

/**
 * Run `fn` in a transaction on one pooled connection. On any error the connection is discarded rather
 * than returned: it may be broken or still inside the failed transaction.
 */
export const inTransaction = async <T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    client.release()
    return result
  } catch (err) {
    client.release(err as Error)
    throw err
  }
}
