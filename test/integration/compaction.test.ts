import { afterEach, describe, expect, it } from 'vitest'
import path from 'node:path'
import * as Y from 'yjs'
import { Level } from 'level'
import { LevelDocStore } from '../../server/storage/level/doc-store.js'
import { createLogger } from '../../server/observe/logger.js'
import { startServer, tempDir, waitFor } from '../helpers/server.js'
import { RawClient } from '../helpers/raw-client.js'

const open = async () => {
  const dir = await tempDir()
  const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' })
  await db.open()
  const docs = db.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' })
  const store = new LevelDocStore(db, { flushIntervalMs: 5, maxBatchOps: 1000, fsync: false, logger: createLogger('silent') })
  return { db, docs, store, dir }
}
const countKeys = async (docs: Awaited<ReturnType<typeof open>>['docs'], prefix: string) => {
  let n = 0
  for await (const _ of docs.keys({ gt: prefix, lt: prefix + '~' })) n++
  return n
}

/** Unload and load the document again: what a cold load sees, applied to a fresh Y.Doc. */
const reload = async (store: LevelDocStore, name: string) => {
  store.release(name)
  const loaded = await store.load(name)
  const copy = new Y.Doc(); Y.applyUpdate(copy, loaded.update!)
  return { loaded, copy }
}

const dbs: Level<string, Uint8Array>[] = []
afterEach(async () => { for (const db of dbs.splice(0)) await db.close() })

describe('LevelDocStore', () => {
  it('appends in batches and reloads the merged state', async () => {
    const { db, docs, store } = await open(); dbs.push(db)
    await store.load('d')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => store.append('d', u))
    for (let i = 0; i < 50; i++) doc.getArray('a').push([i])
    await store.flush()
    expect(await countKeys(docs, 'u!d!')).toBe(50)
    const { loaded, copy } = await reload(store, 'd')
    expect(loaded.logEntries).toBe(50)
    expect(copy.getArray('a').toArray()).toEqual(doc.getArray('a').toArray())
  })

  it('flush() waits for what was queued before it, not for a queue that other documents keep filling', async () => {
    const { db, docs, store } = await open(); dbs.push(db)
    await store.load('leaving')
    await store.load('busy')
    // Another document appends on every turn of the event loop for up to 3 s (steady load elsewhere).
    let loadRunning = true
    let busyAppends = 0
    const loadEnds = Date.now() + 3000
    const appendLoop = () => {
      if (Date.now() > loadEnds) { loadRunning = false; return }
      store.append('busy', new Uint8Array([busyAppends++ & 255]))
      setImmediate(appendLoop)
    }
    appendLoop()
    await new Promise(resolve => setTimeout(resolve, 100))
    const leaving = new Y.Doc()
    leaving.on('update', (u: Uint8Array) => store.append('leaving', u))
    for (let i = 0; i < 20; i++) leaving.getArray('a').push([i])
    await store.flush()
    const flushedDuringLoad = loadRunning
    expect(await countKeys(docs, 'u!leaving!')).toBe(20) // all of it written when flush() resolved
    await waitFor(() => !loadRunning, 5000, 'the load to end')
    expect(flushedDuringLoad).toBe(true) // it did not wait for the other document's load to stop
    await store.flush()
    expect(await countKeys(docs, 'u!busy!')).toBe(busyAppends)
  })

  it('a batch that fails (database closed) is logged, kept and retried in order; nothing is lost', async () => {
    const dir = await tempDir()
    const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' }); dbs.push(db)
    await db.open()
    const logged: string[] = []
    const store = new LevelDocStore(db, { flushIntervalMs: 5, maxBatchOps: 1000, fsync: false, logger: createLogger('error', { write: (line: string) => { logged.push(line) } }) })
    await store.load('d')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => store.append('d', u))
    for (let i = 0; i < 10; i++) doc.getText('t').insert(0, `${i},`)
    await db.close() // every write now fails
    await waitFor(() => logged.some(l => l.includes('storage batch failed')), 2000, 'a failed batch')
    for (let i = 10; i < 15; i++) doc.getText('t').insert(0, `${i},`)
    await db.open()
    await store.flush()
    const docs = db.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' }) // one made before the close stays closed
    expect(await countKeys(docs, 'u!d!')).toBe(15)
    const { loaded, copy } = await reload(store, 'd')
    expect(loaded.logEntries).toBe(15)
    expect(copy.getText('t').toString()).toBe(doc.getText('t').toString())
  })

  it('flush() rejects while the writes it waits for fail, and resolves once they are written', async () => {
    const dir = await tempDir()
    const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' }); dbs.push(db)
    await db.open()
    const store = new LevelDocStore(db, { flushIntervalMs: 5, maxBatchOps: 1000, fsync: false, logger: createLogger('silent') })
    await store.load('d')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => store.append('d', u))
    await db.close() // every write now fails
    for (let i = 0; i < 5; i++) doc.getText('t').insert(0, `${i},`)
    await expect(store.flush()).rejects.toThrow() // an unload then keeps its document loaded
    await db.open()
    await store.flush()
    const docs = db.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' })
    expect(await countKeys(docs, 'u!d!')).toBe(5)
  })

  it('compaction replaces the log with one snapshot atomically and preserves content', async () => {
    const { db, docs, store } = await open(); dbs.push(db)
    await store.load('d')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => store.append('d', u))
    for (let i = 0; i < 30; i++) doc.getText('t').insert(0, `${i},`)
    await store.flush() // half of the log is written, half is compacted while still queued
    for (let i = 30; i < 60; i++) doc.getText('t').insert(0, `${i},`)
    store.compact('d', Y.encodeStateAsUpdate(doc))
    for (let i = 60; i < 65; i++) doc.getText('t').insert(0, `${i},`)
    await store.flush()
    expect(await countKeys(docs, 'u!d!')).toBe(5)
    expect(await docs.get('s!d')).toBeInstanceOf(Uint8Array)
    const { loaded, copy } = await reload(store, 'd')
    expect(loaded.logEntries).toBe(5)
    expect(loaded.snapshotBytes).toBe((await docs.get('s!d'))!.byteLength) // the stored snapshot, not derived from the merge
    expect(copy.getText('t').toString()).toBe(doc.getText('t').toString())
  })

  it('log entries a crash left below the compaction watermark are ignored on load and then removed', async () => {
    const { db, docs, store } = await open(); dbs.push(db)
    await store.load('d')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => store.append('d', u))
    for (let i = 0; i < 10; i++) doc.getText('t').insert(0, `${i},`)
    store.compact('d', Y.encodeStateAsUpdate(doc))
    await store.flush()
    expect(await countKeys(docs, 'u!d!')).toBe(0)
    // As if the process died after the snapshot batch but before the range delete: a log entry below
    // the watermark, with content the snapshot does not have (so loading it would show).
    const other = new Y.Doc()
    other.getText('t').insert(0, 'STALE')
    await docs.put('u!d!000000000003', Y.encodeStateAsUpdate(other))
    const { loaded, copy } = await reload(store, 'd')
    expect(copy.getText('t').toString()).toBe(doc.getText('t').toString())
    expect(loaded.logEntries).toBe(0)
    await store.flush()
    expect(await countKeys(docs, 'u!d!')).toBe(0)
  })

  it('keeps sequence numbers increasing across reloads (no overwrite of older entries)', async () => {
    const { db, docs, store } = await open(); dbs.push(db)
    await store.load('d')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => store.append('d', u))
    doc.getArray('a').push([1])
    await store.flush(); store.release('d')
    await store.load('d')
    doc.getArray('a').push([2])
    await store.flush()
    expect(await countKeys(docs, 'u!d!')).toBe(2)
  })
})

describe('compaction in the server', () => {
  it('a document with many thousands of updates stays compact and cold-loads with everything', async () => {
    const s = await startServer({ compactMaxEntries: 200, unloadGraceMs: 50 })
    const writer = new RawClient(`${s.wsUrl}/big`)
    await waitFor(() => writer.synced)
    const N = 5000
    // In bursts of 50 across event-loop turns, as typing arrives: the server applies what arrives in one
    // turn together and checks the thresholds after each such batch.
    for (let i = 0; i < N; i++) {
      writer.doc.getArray<number>('a').push([i])
      if (i % 50 === 49) await new Promise(resolve => setTimeout(resolve, 2))
    }
    await waitFor(async () => s.metrics.hot.messagesIn[0]! >= N + 1, 10_000, 'server received every edit')
    writer.ws.terminate()
    await waitFor(() => s.rooms.size === 0, 5000, 'unload')
    const compactions = (await s.metrics.compactions.get()).values[0]?.value ?? 0
    // every ~200 updates, fewer once the snapshot outgrows half the log (see the next test)
    expect(compactions).toBeGreaterThanOrEqual(N / 400)
    // the stored log is bounded by the threshold no matter how many updates the doc received
    const docs = s.db!.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' })
    let logKeys = 0
    for await (const _ of docs.keys({ gt: 'u!big!', lt: 'u!big!~' })) logKeys++
    expect(logKeys).toBeLessThanOrEqual(200)
    const t0 = performance.now()
    const reader = new RawClient(`${s.wsUrl}/big`)
    await waitFor(() => reader.synced)
    console.log(`cold load of ${N}-update document: ${(performance.now() - t0).toFixed(1)} ms to synced`)
    expect(reader.doc.getArray('a').length).toBe(N)
    reader.ws.terminate()
    await s.close()
  })

  it('a log that only appends compacts by copying bytes, rebuilds every ninth time, and cold-loads with everything', async () => {
    const s = await startServer({ compactMaxEntries: 20, unloadGraceMs: 50 })
    const count = async (c: { get (): Promise<{ values: { value: number }[] }> }) => (await c.get()).values[0]?.value ?? 0
    // Four devices set new keys, as the load tool's edits do: every update appends to its own client.
    const writers = await Promise.all([0, 1, 2, 3].map(async () => { const w = new RawClient(`${s.wsUrl}/log`); await waitFor(() => w.synced); return w }))
    const N = 1200
    for (let i = 0; i < N; i++) {
      writers[i % 4]!.doc.getMap<string>('m').set(`k${i}`, `@@edit-${i}|`)
      if (i % 10 === 9) await new Promise(resolve => setTimeout(resolve, 1))
    }
    await waitFor(async () => s.metrics.hot.messagesIn[0]! >= N + 4, 10_000, 'server received every edit')
    const appended = await count(s.metrics.appendMerges)
    const rebuilt = await count(s.metrics.rebuilds)
    expect(await count(s.metrics.compactions)).toBeGreaterThanOrEqual(10)
    expect(appended).toBeGreaterThanOrEqual(8)
    expect(rebuilt).toBeGreaterThanOrEqual(1) // every ninth compaction (a sync's rebuild counts too)
    expect(appended).toBeGreaterThan(rebuilt * 4)
    for (const w of writers) w.ws.terminate()
    await waitFor(() => s.rooms.size === 0, 5000, 'unload')
    const reader = new RawClient(`${s.wsUrl}/log`)
    await waitFor(() => reader.synced)
    const expected = Object.fromEntries(Array.from({ length: N }, (_, i) => [`k${i}`, `@@edit-${i}|`]))
    expect(reader.doc.getMap('m').toJSON()).toEqual(expected)
    reader.ws.terminate()
    await s.close()
  })

  it('the snapshot drops overwritten values: the room merges through a Y.Doc, not by concatenating updates', async () => {
    const s = await startServer({ compactMaxEntries: 1000, unloadGraceMs: 50 })
    const writer = new RawClient(`${s.wsUrl}/prefs`)
    await waitFor(() => writer.synced)
    const map = writer.doc.getMap<string>('m')
    for (let i = 0; i < 300; i++) { map.set('theme', `${i}:`.padEnd(1000, 'x')); if (i % 20 === 19) await new Promise(resolve => setTimeout(resolve, 2)) }
    await waitFor(async () => s.metrics.hot.messagesIn[0]! >= 301, 5000, 'server received every edit')
    // A device syncing now gets the last value only (the merge replaced the 299 overwritten ones).
    const reader = new RawClient(`${s.wsUrl}/prefs`)
    await waitFor(() => reader.synced)
    expect(reader.doc.getMap('m').get('theme')).toBe(map.get('theme'))
    expect((await s.metrics.appendMerges.get()).values[0]?.value ?? 0).toBe(0) // every overwrite deletes: no copying
    const step2 = reader.received.find(m => m[0] === 0 && m[1] === 1)!
    expect(step2.length).toBeLessThan(5000) // ~300 KB of updates in the log
    writer.ws.terminate(); reader.ws.terminate()
    await waitFor(() => s.rooms.size === 0, 5000, 'unload')
    const docs = s.db!.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' })
    let stored = 0
    for (const key of ['s!prefs', 'w!prefs']) stored += (await docs.get(key))?.byteLength ?? 0
    for await (const v of docs.values({ gt: 'u!prefs!', lt: 'u!prefs!~' })) stored += v.byteLength
    expect(stored).toBeGreaterThan(1000)
    expect(stored).toBeLessThan(5000)
    await s.close()
  })

  it('a big document compacts once its log holds half the snapshot, or at 10× the entry threshold', async () => {
    const s = await startServer({ compactMaxEntries: 20 })
    const compactions = async () => (await s.metrics.compactions.get()).values[0]?.value ?? 0
    const writer = new RawClient(`${s.wsUrl}/big`)
    await waitFor(() => writer.synced)
    const map = writer.doc.getMap<string | number>('m')
    const smallEdits = async (from: number, n: number) => {
      for (let i = from; i < from + n; i++) { map.set(`k${i}`, i); await new Promise(resolve => setTimeout(resolve, 1)) }
      await waitFor(async () => s.metrics.hot.messagesIn[0]! >= 1 + 1 + from + n, 5000, 'server received the edits')
    }
    map.set('big', 'x'.repeat(40_000)) // one 40 KB update
    await smallEdits(0, 30) // past 20 entries, and nothing was snapshotted yet: compacts into a ~40 KB snapshot
    expect(await compactions()).toBe(1)
    await smallEdits(30, 150) // 150 entries of ~15 B: far past 20, but the log is < half the snapshot
    expect(await compactions()).toBe(1)
    await smallEdits(180, 60) // past 10 × 20 entries since the snapshot: compacts regardless
    expect(await compactions()).toBe(2)
    writer.ws.terminate()
    await s.close()
  })
})
