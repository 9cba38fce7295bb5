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
 * A `pg` pool for the stores. Connections use TCP keepalive and give up connecting after 10 s, so a
 * vanished database fails writes (which are retried) instead of hanging them.
 *
 * A connection that breaks (database restart, `pg_terminate_backend`, network) emits `error`, which
 * ends the process if nobody listens. The pool listens only while a connection is idle (and then
 * re-emits on the pool, logged here); a checked-out one is unheard between its statements, and even
 * in the moment between checkout and the caller's code. So every connection gets a listener of its
 * own for its whole life. It need not act: a statement on a broken connection fails, which is how the
 * error reaches the caller, and the pool discards a connection released with an error.
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
  pool.on('connect', client => { client.on('error', ignore) })
  return pool
}

const ignore = () => {}

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
