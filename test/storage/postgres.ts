import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

/**
 * The machine's PostgreSQL (trust auth on 127.0.0.1, .ci/run starts it). SYNC_TEST_PG_URL points the
 * tests at another server; its user must be allowed to create and drop databases.
 */
export const ADMIN_URL = process.env.SYNC_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

const urlFor = (database: string) => {
  const u = new URL(ADMIN_URL)
  u.pathname = `/${database}`
  return u.toString()
}

const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  try {
    await client.connect()
  } catch (err) {
    throw new Error(`PostgreSQL for the tests is not reachable at ${new URL(ADMIN_URL).host} (${(err as Error).message}); start it, e.g. pg_ctlcluster <version> main start`, { cause: err })
  }
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export interface TestDatabase { name: string, url: string, drop(): Promise<void> }

/** A fresh, empty database `sync_test_<pid>_<random>`; `drop()` removes it, closing leftover connections. */
export const createTestDatabase = async (): Promise<TestDatabase> => {
  const name = `sync_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await admin(c => c.query(`CREATE DATABASE ${name}`))
  return { name, url: urlFor(name), drop: () => admin(async c => { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }) }
}

/** One database for a test file: created before its tests, dropped after them. */
export const useTestDatabase = (): { readonly url: string, readonly name: string } => {
  let db: TestDatabase | undefined
  beforeAll(async () => { db = await createTestDatabase() })
  afterAll(async () => { await db?.drop() })
  return {
    get url () { if (!db) throw new Error('test database not created yet'); return db.url },
    get name () { if (!db) throw new Error('test database not created yet'); return db.name }
  }
}

/**
 * End every connection the server has open to `database` from our pools (application_name
 * session-sync), as a database restart or a failover would. Returns how many were ended.
 */
export const terminateConnections = (database: string): Promise<number> => admin(async c => {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE datname = $1 AND application_name = 'session-sync' AND pid <> pg_backend_pid()`, [database])
  return rows[0]!.n
})
