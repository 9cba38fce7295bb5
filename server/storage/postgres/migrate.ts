import fs from 'node:fs/promises'
import path from 'node:path'
import type { Pool } from 'pg'
import type { Logger } from '../../observe/logger.js'
import { inTransaction } from './pool.js'

/**
 * Schema migrations: plain SQL files `NNN_name.sql` in `migrations/`, applied in version order, each
 * once, recorded in `schema_migrations`. `npm run build` copies the directory next to the compiled
 * module, so the same relative path resolves there.
 */
export const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations')

export interface Migration { version: number, name: string, sql: string }

const FILE = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/

/** Every migration in `dir`, by version; a file with a bad name or a repeated version is an error. */
export const readMigrations = async (dir = MIGRATIONS_DIR): Promise<Migration[]> => {
  const migrations: Migration[] = []
  for (const file of await fs.readdir(dir)) {
    if (!file.endsWith('.sql')) continue
    const m = FILE.exec(file)
    if (!m) throw new Error(`migration file ${file} is not named NNN_name.sql`)
    migrations.push({ version: Number(m[1]), name: m[2]!, sql: await fs.readFile(path.join(dir, file), 'utf8') })
  }
  migrations.sort((a, b) => a.version - b.version)
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) throw new Error(`two migrations have version ${migrations[i]!.version}`)
  }
  return migrations
}

/**
 * Arbitrary constant naming the migration lock among advisory locks. Nodes starting together queue on
 * it: the first applies what is missing, the others then find nothing left to do.
 */
const MIGRATION_LOCK = 7_301_994_512_001

/**
 * Apply the migrations the database lacks, all in one transaction under the lock, so a failing one
 * leaves the schema as it was. Returns the versions applied.
 */
export const migrate = async (pool: Pool, logger: Logger, dir = MIGRATIONS_DIR): Promise<number[]> => {
  const migrations = await readMigrations(dir)
  const applied = await inTransaction(pool, async client => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
    const done = new Set(rows.map(r => r.version))
    const known = new Set(migrations.map(m => m.version))
    const unknown = [...done].filter(v => !known.has(v))
    if (unknown.length > 0) logger.warn({ versions: unknown }, 'the database has migrations this server does not know (a newer version ran)')
    const versions: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      try {
        await client.query(m.sql)
      } catch (err) {
        throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`, { cause: err })
      }
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      versions.push(m.version)
    }
    return versions
  })
  if (applied.length > 0) logger.info({ versions: applied }, 'database migrations applied')
  return applied
}
