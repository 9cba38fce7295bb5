import fs from 'node:fs/promises'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLogger } from '../../server/observe/logger.js'
import { migrate, readMigrations, MIGRATIONS_DIR } from '../../server/storage/postgres/migrate.js'
import { openPostgresStores, PostgresDocStore, type PostgresStores } from '../../server/storage/postgres/index.js'
import { createPool } from '../../server/storage/postgres/pool.js'
import { tempDir, waitFor } from '../helpers/server.js'
import { CutProxy } from './cut-proxy.js'
import { createTestDatabase, terminateConnections, useTestDatabase, type TestDatabase } from './postgres.js'

const db = useTestDatabase()
const silent = createLogger('silent')
/** A logger whose lines (JSON) land in `lines`. */
const capture = () => {
  const lines: string[] = []
  return { lines, logger: createLogger('info', { write: (line: string) => { lines.push(line) } }) }
}
const name = () => `doc-${randomUUID().slice(0, 8)}`

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

const open = async (url = db.url, opts: { logger?: ReturnType<typeof createLogger>, flushIntervalMs?: number } = {}): Promise<PostgresStores> => {
  const stores = await openPostgresStores(url, { flushIntervalMs: opts.flushIntervalMs ?? 5, maxBatchOps: 1000, logger: opts.logger ?? silent })
  cleanups.push(() => stores.close())
  return stores
}
const freshDatabase = async (): Promise<TestDatabase> => {
  const d = await createTestDatabase()
  cleanups.push(() => d.drop())
  return d
}
const pool = (url: string) => {
  const p = createPool(url, silent)
  cleanups.push(() => p.end())
  return p
}
/**
 * What a fresh server would load, on a pool of its own whose connections `terminateConnections`
 * leaves alone (another application_name).
 */
const readBack = async (doc: string) => {
  const p = new pg.Pool({ connectionString: db.url, application_name: 'sync-test-reader', max: 1 })
  const loaded = await new PostgresDocStore(p, { flushIntervalMs: 5, maxBatchOps: 10, logger: silent }).load(doc).finally(() => p.end())
  const d = new Y.Doc()
  if (loaded.update) Y.applyUpdate(d, loaded.update)
  return { loaded, text: d.getText('t').toString() }
}
const writer = (s: PostgresStores, doc: string) => {
  const ydoc = new Y.Doc()
  ydoc.on('update', (u: Uint8Array) => s.docs.append(doc, u))
  return ydoc
}
/** Flush until a flush succeeds (each failed batch stays queued and is retried). */
const flushed = (s: PostgresStores) => waitFor(() => s.docs.flush().then(() => true, () => false), 20_000, 'a successful flush')

describe('PostgreSQL migrations', () => {
  it('the shipped migrations are numbered and named NNN_name.sql', async () => {
    const migrations = await readMigrations(MIGRATIONS_DIR)
    // Strictly increasing from 1; numbers reserved for work not merged yet may leave gaps.
    const versions = migrations.map(m => m.version)
    expect(versions[0]).toBe(1)
    expect(versions.every((v, i) => i === 0 || v > versions[i - 1]!)).toBe(true)
  })

  it('two nodes migrating one database at once: one applies, the other finds nothing to do', async () => {
    const fresh = await freshDatabase()
    const [a, b] = [pool(fresh.url), pool(fresh.url)]
    const results = await Promise.all([migrate(a, silent), migrate(b, silent)])
    const all = (await readMigrations()).map(m => m.version)
    expect(results.map(r => r.length).sort()).toEqual([0, all.length])
    expect((await a.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map(r => r.version)).toEqual(all)
    expect(await migrate(a, silent)).toEqual([])
  })

  it('a failing migration applies nothing and names itself; fixed, everything applies', async () => {
    const fresh = await freshDatabase()
    const dir = await tempDir('migrations-')
    await fs.writeFile(path.join(dir, '001_first.sql'), 'CREATE TABLE first_table (x int);')
    await fs.writeFile(path.join(dir, '002_broken.sql'), 'CREATE TABLE second_table (x no_such_type);')
    const p = pool(fresh.url)
    await expect(migrate(p, silent, dir)).rejects.toThrow(/migration 2_broken failed: type "no_such_type" does not exist/)
    expect((await p.query("SELECT to_regclass('first_table') AS t")).rows[0].t).toBeNull()
    await fs.writeFile(path.join(dir, '002_broken.sql'), 'CREATE TABLE second_table (x int);')
    expect(await migrate(p, silent, dir)).toEqual([1, 2])
  })

  it('refuses migration files it cannot order', async () => {
    const dir = await tempDir('migrations-')
    await fs.writeFile(path.join(dir, 'init.sql'), 'SELECT 1;')
    await expect(readMigrations(dir)).rejects.toThrow(/init.sql is not named NNN_name.sql/)
    await fs.rm(path.join(dir, 'init.sql'))
    await fs.writeFile(path.join(dir, '001_a.sql'), 'SELECT 1;')
    await fs.writeFile(path.join(dir, '1_b.sql'), 'SELECT 1;')
    await expect(readMigrations(dir)).rejects.toThrow(/two migrations have version 1/)
  })
})

describe('PostgresDocStore against a failing database', () => {
  it('writes within the batch window without a flush', async () => {
    const s = await open(db.url, { flushIntervalMs: 20 })
    const doc = name()
    await s.docs.load(doc)
    writer(s, doc).getText('t').insert(0, 'x')
    const reader = pool(db.url)
    await waitFor(async () => (await reader.query('SELECT count(*)::int AS n FROM doc_updates WHERE name = $1', [doc])).rows[0].n === 1, 5000, 'the window to write the update')
  })

  it('a batch whose connection is killed mid-statement is logged and retried; nothing is lost', async () => {
    const { lines, logger } = capture()
    const s = await open(db.url, { logger })
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s, doc)
    ydoc.getText('t').insert(0, 'before;')
    await s.docs.flush()
    // Hold the table so the next batch is in flight on the server, then kill its connection.
    const locker = new pg.Client({ connectionString: db.url })
    await locker.connect()
    cleanups.push(() => locker.end())
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE doc_updates IN ACCESS EXCLUSIVE MODE')
    for (let i = 0; i < 5; i++) ydoc.getText('t').insert(ydoc.getText('t').length, `${i};`)
    const blocked = s.docs.flush().then(() => null, (err: Error) => err) // settles once the batch fails
    await waitFor(async () => (await locker.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'session-sync' AND wait_event_type = 'Lock'")).rows[0].n > 0,
    5000, 'the batch to wait on the lock')
    expect(await terminateConnections(db.name)).toBeGreaterThan(0)
    expect((await blocked)?.message).toMatch(/terminating connection/)
    await locker.query('ROLLBACK')
    const failure = lines.map(l => JSON.parse(l)).find(l => l.msg === 'storage batch failed, will retry')
    expect(failure).toMatchObject({ level: 50, pgCode: '57P01', ops: 5 })
    // Appended while the batch failed: queued behind the retried one.
    ydoc.getText('t').insert(ydoc.getText('t').length, 'after')
    await flushed(s)
    const back = await readBack(doc)
    expect(back.text).toBe('before;0;1;2;3;4;after')
    expect(back.loaded.logEntries).toBe(7)
  })

  it('connections killed again and again during writes and compactions: everything flush() acknowledged is stored', async () => {
    const s = await open()
    const docs = [name(), name()]
    const ydocs = []
    for (const d of docs) { await s.docs.load(d); ydocs.push(writer(s, d)) }
    let kills = 0
    let killing = true
    const killer = (async () => {
      while (killing) kills += await terminateConnections(db.name)
    })()
    cleanups.push(async () => { killing = false; await killer })
    const acknowledged: string[][] = []
    for (let round = 0; round < 40; round++) {
      for (const [i, ydoc] of ydocs.entries()) {
        for (let j = 0; j < 10; j++) ydoc.getText('t').insert(ydoc.getText('t').length, `${round}.${j};`)
        if (round % 10 === 9) s.docs.compact(docs[i]!, Y.encodeStateAsUpdate(ydoc))
      }
      if (round % 4 === 3) {
        const texts = ydocs.map(d => d.getText('t').toString())
        await flushed(s)
        acknowledged.push(texts)
        for (const [i, d] of docs.entries()) expect((await readBack(d)).text).toBe(texts[i])
      }
    }
    killing = false
    await killer
    await flushed(s)
    expect(kills).toBeGreaterThan(0)
    for (const [i, d] of docs.entries()) expect((await readBack(d)).text).toBe(ydocs[i]!.getText('t').toString())
    expect(acknowledged).toHaveLength(10)
  })

  it('a batch that committed but whose answer was lost is retried without duplicates or a stuck queue', async () => {
    const proxy = await CutProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) })
    cleanups.push(() => proxy.close())
    const viaProxy = new URL(db.url)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    const s = await open(viaProxy.toString())
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s, doc)
    // Appends alone: one INSERT.
    ydoc.getText('t').insert(0, 'a;b;')
    ydoc.getText('t').insert(4, 'c;')
    proxy.arm('INSERT')
    await expect(s.docs.flush()).rejects.toThrow()
    expect(proxy.cuts).toBe(1)
    await s.docs.flush()
    expect(await readBack(doc)).toMatchObject({ text: 'a;b;c;', loaded: { logEntries: 2 } })
    // Appends and a compaction: one transaction.
    ydoc.getText('t').insert(6, 'd;')
    s.docs.compact(doc, Y.encodeStateAsUpdate(ydoc))
    ydoc.getText('t').insert(8, 'e;')
    proxy.arm('COMMIT')
    await expect(s.docs.flush()).rejects.toThrow()
    expect(proxy.cuts).toBe(2)
    await s.docs.flush()
    const back = await readBack(doc)
    expect(back.text).toBe('a;b;c;d;e;')
    expect(back.loaded.logEntries).toBe(1)
  })

  it('connections that die while idle are replaced; the process keeps running', async () => {
    const { lines, logger } = capture()
    const s = await open(db.url, { logger })
    const doc = name()
    await s.docs.load(doc)
    expect(s.pool.idleCount).toBeGreaterThan(0)
    expect(await terminateConnections(db.name)).toBeGreaterThan(0)
    await waitFor(() => lines.some(l => l.includes('idle PostgreSQL connection lost')), 5000, 'the pool to notice')
    writer(s, doc).getText('t').insert(0, 'still here')
    await s.docs.flush()
    expect(await s.sessions.userById('nobody')).toBeUndefined()
    expect((await readBack(doc)).text).toBe('still here')
  })

  it('a checked-out connection that breaks between statements does not end the process', async () => {
    const p = createPool(db.url, silent)
    cleanups.push(() => p.end())
    const client = await p.connect()
    const ended = new Promise(resolve => client.once('end', resolve))
    expect(await terminateConnections(db.name)).toBe(1)
    await ended // the server's FATAL message arrived while no statement was running
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable/)
    client.release(new Error('broken'))
    expect((await p.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('an unreachable database fails the start with a message that names it without credentials', async () => {
    const err = await openPostgresStores('postgres://sync:s3cret-pw@127.0.0.1:1/somedb', { flushIntervalMs: 5, maxBatchOps: 10, logger: silent }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toMatch(/^PostgreSQL at 127\.0\.0\.1:1\/somedb: .*ECONNREFUSED/)
    expect((err as Error).message).not.toContain('s3cret-pw')
  })
})
