/**
 * Cold load of a document of 100,000 updates in cluster mode (`--store postgres --redis-url`):
 * `npm run bench:cold-load`. Needs the PostgreSQL and Redis the tests use (SYNC_TEST_PG_URL,
 * SYNC_TEST_REDIS_URL override them); works in a database and key prefix of its own, removed after.
 *
 * Documents of the same 100,000 one-character edits: "log", every update a row of the log (what a
 * document never compacted holds), and "compacted", a snapshot of all but the last 1000 (`--tail N`)
 * and those as log rows and on the document's Redis stream after the snapshot's position (what a node
 * finds after another node compacted the document at the default --compact-entries; a log must also
 * reach half its snapshot's bytes before it compacts, so a big document's can hold more). The figure
 * is the time from a device's socket opening to its sync step 2 on a node that does not hold the
 * document (the document is unloaded between rounds): storage load, merge, subscription, answer. The
 * server runs as its own process (the source CLI under tsx).
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import * as Y from 'yjs'
import { createLogger } from '../../server/observe/logger.js'
import { openPostgresStores } from '../../server/storage/postgres/index.js'
import { startChildServer } from '../../test/helpers/child-server.js'
import { RawClient } from '../../test/helpers/raw-client.js'
import { untilSynced } from './until-synced.js'
import { waitFor } from '../../test/helpers/server.js'
import { createTestDatabase } from '../../test/storage/postgres.js'

const UPDATES = 100_000
const { values: args } = parseArgs({ options: { tail: { type: 'string', default: '1000' } } })
const TAIL = Number(args.tail)
if (!Number.isInteger(TAIL) || TAIL < 1 || TAIL >= UPDATES) throw new Error(`--tail: a whole number from 1 to ${UPDATES - 1}`)
const ROUNDS = 7
const LOG_ROUNDS = 5
const REDIS_URL = process.env.SYNC_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const db = await createTestDatabase()
const prefix = `sync-bench:${randomBytes(4).toString('hex')}:`
const redis = new Redis(REDIS_URL, { protocol: 2 })
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

try {
  // The edits, as a device makes them: one update per character typed.
  const source = new Y.Doc()
  const updates: Uint8Array[] = []
  source.on('update', (u: Uint8Array) => updates.push(u))
  const text = source.getText('t')
  for (let i = 0; i < UPDATES; i++) text.insert(i % 1000 === 0 ? 0 : text.length, String(i % 10))
  const head = new Y.Doc()
  for (const u of updates.slice(0, UPDATES - TAIL)) Y.applyUpdate(head, u)

  const stores = await openPostgresStores(db.url, { flushIntervalMs: 5, maxBatchOps: 5000, logger: createLogger('silent') })
  // A node compacts a document when it unloads it: each round of "log" gets a copy of its own.
  for (let r = 0; r < LOG_ROUNDS; r++) {
    await stores.docs.load(`log-${r}`)
    for (const u of updates) stores.docs.append(`log-${r}`, u)
    await stores.docs.flush()
  }
  await stores.docs.load('compacted')
  const keys = updates.map(u => stores.docs.append('compacted', u))
  await stores.docs.flush()
  const stream = `${prefix}doc:compacted`
  const position = (await redis.xadd(stream, '*', 'n', 'bench', 'k', '', 'u', Buffer.from(Y.encodeStateAsUpdate(head))))!
  for (let i = UPDATES - TAIL; i < UPDATES; i++) await redis.xadd(stream, '*', 'n', 'bench', 'k', keys[i]!, 'u', Buffer.from(updates[i]!))
  await stores.docs.compact('compacted', Y.encodeStateAsUpdate(head), { pending: TAIL, position })
  await stores.close()

  const server = await startChildServer(['--insecure-no-auth', '--store', 'postgres', '--database-url', db.url, '--redis-url', REDIS_URL,
    // No compaction while loaded: "log" is a log of 100,000 rows when it loads.
    '--redis-prefix', prefix, '--unload-grace-ms', '1', '--compact-entries', String(10 * UPDATES), '--compact-bytes', String(1 << 30)])
  try {
    const metric = async (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(await (await fetch(`${server.url}/metrics`)).text())?.[1])
    const loaded = () => metric('sync_documents_loaded')
    /** Server side: the room's load (storage query, merge, subscription), from its histogram. */
    const serverMs: number[] = []
    const join = async (doc: string) => {
      const loadSum = await metric('sync_document_load_seconds_sum')
      const c = new RawClient(`${server.wsUrl}/${doc}`)
      await c.opened
      const ms = await untilSynced(c)
      serverMs.push((await metric('sync_document_load_seconds_sum') - loadSum) * 1000)
      if (c.text() !== text.toString()) throw new Error(`${doc}: the device got other content`)
      c.ws.close()
      await waitFor(async () => await loaded() === 0, 30_000, 'the document unloaded')
      return ms
    }
    console.log(`cold load, ${UPDATES.toLocaleString('en')} updates, cluster mode, "compacted" with ${TAIL} log rows (the first join of "compacted" is a dropped warm-up)`)
    const report = (what: string, times: number[]) => {
      const server = serverMs.splice(0)
      console.log(`${what.padEnd(10)} socket open to sync step 2: median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}); ` +
        `of which the server's load: median ${median(server).toFixed(1)} ms   (${times.length} loads)`)
    }
    await join('compacted')
    serverMs.length = 0
    const compacted: number[] = []
    for (let r = 0; r < ROUNDS; r++) compacted.push(await join('compacted'))
    report('compacted', compacted)
    const log: number[] = []
    for (let r = 0; r < LOG_ROUNDS; r++) log.push(await join(`log-${r}`))
    report('log', log)
  } finally {
    server.proc.kill('SIGTERM')
    await server.exited
  }
} finally {
  const left = await redis.keys(`${prefix}*`)
  if (left.length > 0) await redis.del(...left)
  await redis.quit()
  await db.drop()
}
