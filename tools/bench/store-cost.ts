/**
 * What the document stores cost, LevelDB against PostgreSQL: `npx tsx tools/bench/store-cost.ts`.
 *
 * - append batch: B updates appended then `flush()`ed, as one batch window carries them: the time
 *   until durable, and the main-thread CPU it took (building the batch, encoding, the driver).
 * - cold load: `load()` of a document whose log holds 10,000 updates (no snapshot), on a store opened
 *   for the purpose, so nothing is cached in the process; `merge` is the part spent merging the
 *   updates with Yjs, the same for both stores.
 *
 * Updates are single-character text inserts as a typing user makes them (~25 bytes). PostgreSQL is
 * the machine's (SYNC_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres) in a database
 * created and dropped by the run; LevelDB is in a temp dir. Numbers are medians of the repetitions.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Level } from 'level'
import * as Y from 'yjs'
import { createLogger } from '../../server/observe/logger.js'
import type { DocStore } from '../../server/storage/doc-store.js'
import { LevelDocStore } from '../../server/storage/level/doc-store.js'
import { openPostgresStores } from '../../server/storage/postgres/index.js'
import { mergeUpdates } from '../../server/yjs/merge-updates.js'
import { createTestDatabase } from '../../test/storage/postgres.js'

const BATCHES = [100, 1000, 5000]
const REPEAT = 15
const LOAD_UPDATES = 10_000
const LOAD_REPEAT = 7

const typing = (n: number): Uint8Array[] => {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const text = doc.getText('t')
  for (let i = 0; i < n; i++) text.insert(text.length, String.fromCharCode(97 + (i % 26)))
  return updates
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

interface Backend { name: string, open(): Promise<{ docs: DocStore, close(): Promise<void> }>, dispose(): Promise<void> }

const level = async (): Promise<Backend> => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'store-cost-'))
  return {
    name: 'level',
    async open () {
      const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' })
      await db.open()
      const docs = new LevelDocStore(db, { flushIntervalMs: 10, maxBatchOps: 100_000, fsync: false, logger: createLogger('silent') })
      return { docs, close: async () => { await docs.close(); await db.close() } }
    },
    dispose: () => fs.rm(dir, { recursive: true, force: true })
  }
}

const postgres = async (): Promise<Backend> => {
  const database = await createTestDatabase()
  return {
    name: 'postgres',
    async open () {
      const stores = await openPostgresStores(database.url, { flushIntervalMs: 10, maxBatchOps: 100_000, logger: createLogger('silent') })
      return { docs: stores.docs, close: () => stores.close() }
    },
    dispose: () => database.drop()
  }
}

const updates = typing(Math.max(LOAD_UPDATES, ...BATCHES))
const bytes = (xs: Uint8Array[]) => xs.reduce((sum, u) => sum + u.byteLength, 0)
console.log(`updates: ${updates.length}, ${(bytes(updates) / updates.length).toFixed(1)} bytes each`)

const mergeMs: number[] = []
for (let r = 0; r < LOAD_REPEAT; r++) {
  const t = performance.now()
  mergeUpdates(updates.slice(0, LOAD_UPDATES))
  mergeMs.push(performance.now() - t)
}

const rows: string[] = []
for (const make of [level, postgres]) {
  const backend = await make()
  try {
    const { docs, close } = await backend.open()
    for (const size of BATCHES) {
      const wall: number[] = []
      const cpu: number[] = []
      for (let r = 0; r < REPEAT; r++) {
        const name = `batch-${size}-${r}`
        await docs.load(name)
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        for (let i = 0; i < size; i++) docs.append(name, updates[i]!)
        await docs.flush()
        wall.push(performance.now() - t0)
        const c = process.cpuUsage(c0)
        cpu.push((c.user + c.system) / 1000)
        docs.release(name)
      }
      const w = median(wall)
      rows.push(`${backend.name.padEnd(9)} append batch ${String(size).padStart(5)}: ${w.toFixed(1).padStart(7)} ms durable (${(w * 1000 / size).toFixed(1)} µs/update), main-thread CPU ${median(cpu).toFixed(1)} ms`)
    }
    await docs.load('cold')
    for (let i = 0; i < LOAD_UPDATES; i++) docs.append('cold', updates[i]!)
    await close()
    const loadMs: number[] = []
    for (let r = 0; r < LOAD_REPEAT; r++) {
      const fresh = await backend.open()
      const t = performance.now()
      const loaded = await fresh.docs.load('cold')
      loadMs.push(performance.now() - t)
      if (loaded.logEntries !== LOAD_UPDATES) throw new Error(`loaded ${loaded.logEntries} entries`)
      await fresh.close()
    }
    rows.push(`${backend.name.padEnd(9)} cold load of ${LOAD_UPDATES} updates: ${median(loadMs).toFixed(1)} ms (merge ${median(mergeMs).toFixed(1)} ms of it)`)
  } finally {
    await backend.dispose()
  }
}
console.log(rows.join('\n'))
