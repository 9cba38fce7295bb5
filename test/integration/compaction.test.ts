import { afterEach, describe, expect, it } from 'vitest'
import path from 'node:path'
import * as Y from 'yjs'
import { Level } from 'level'
import { LevelDocStore } from '../../server/storage/level/doc-store.js'
import { createLogger } from '../../server/observe/logger.js'
import { startServer, tempDir, waitFor } from '../helpers/server.js'
import { RawClient } from '../helpers/raw-client.js'
import { MergeWorker, type Merger } from '../../server/yjs/merger.js'

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

/** The merge worker, with each result held until the test releases it: a compaction that takes as long as the test needs. */
class HeldMerger implements Merger {
  private readonly worker = new MergeWorker()
  private readonly held: Array<() => void> = []
  private holding = true
  get waiting () { return this.held.length }
  async merge (parts: Uint8Array[], onError?: (err: Error) => void): Promise<Uint8Array> {
    const update = await this.worker.merge(parts, onError)
    if (this.holding) await new Promise<void>(resolve => this.held.push(resolve))
    return update
  }
  release () { for (const resolve of this.held.splice(0)) resolve() }
  /** Lets every merge through, the ones still in the worker and later ones too (an unload compacts). */
  open () { this.holding = false; this.release() }
  close () { this.release(); return this.worker.close() }
}

const compactionsOf = async (s: { metrics: { compactions: { get (): Promise<{ values: { value: number }[] }> } } }) => (await s.metrics.compactions.get()).values[0]?.value ?? 0

/** A document's stored snapshot and live log (entries at or above the watermark), once the entries below it are cleared. */
/** `until`: also wait until the stored state passes this check (writes land after the sockets see them). */
const waitForStored = async (db: Level<string, Uint8Array>, name: string, until: (stored: { snapshot: Uint8Array, log: Uint8Array[] }) => boolean = () => true) => {
  const docs = db.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' })
  let found: { snapshot: Uint8Array, log: Uint8Array[] } | null = null
  await waitFor(async () => {
    const [snapshot, mark] = await docs.getMany([`s!${name}`, `w!${name}`])
    if (!snapshot || !mark) return false
    const watermark = parseInt(new TextDecoder().decode(mark), 16)
    const log: Uint8Array[] = []
    for await (const [key, value] of docs.iterator({ gt: `u!${name}!`, lt: `u!${name}!~` })) {
      if (parseInt(key.slice(`u!${name}!`.length), 16) < watermark) return false // not cleared yet
      log.push(value)
    }
    found = { snapshot, log }
    return until(found)
  }, 5000, 'the snapshot written and the covered log entries removed')
  return found!
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
    await waitFor(() => busyAppends >= 10, 5000, 'the other document under load')
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

  it('a compaction with updates pending keeps them in the log, written or still queued, and drops only what its snapshot covers', async () => {
    const { db, docs, store } = await open(); dbs.push(db)
    await store.load('d')
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => store.append('d', u))
    const text = doc.getText('t')
    for (let i = 0; i < 10; i++) text.insert(text.length, `${i},`)
    const snapshot = Y.encodeStateAsUpdate(doc) // what a merge started now covers
    for (let i = 10; i < 14; i++) text.insert(text.length, `${i},`)
    await store.flush() // the four after the cut are written…
    for (let i = 14; i < 17; i++) text.insert(text.length, `${i},`) // …and three more are still queued
    store.compact('d', snapshot, { pending: 7 })
    await store.flush()
    await waitFor(async () => (await countKeys(docs, 'u!d!')) === 7, 2000, 'the covered entries removed')
    const seqs: number[] = []
    for await (const key of docs.keys({ gt: 'u!d!', lt: 'u!d!~' })) seqs.push(parseInt(key.slice(4), 16))
    expect(seqs).toEqual([10, 11, 12, 13, 14, 15, 16])
    const { loaded, copy } = await reload(store, 'd')
    expect(loaded.logEntries).toBe(7)
    expect(loaded.snapshotBytes).toBe(snapshot.byteLength)
    expect(copy.getText('t').toString()).toBe(text.toString())
    // The next compaction covers everything; one that would cover less than the last is refused.
    expect(() => store.compact('d', Y.encodeStateAsUpdate(doc), { pending: 8 })).toThrow(/covers fewer updates/)
    store.compact('d', Y.encodeStateAsUpdate(doc))
    await store.flush()
    await waitFor(async () => (await countKeys(docs, 'u!d!')) === 0, 2000, 'the log emptied')
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
    // Pacing, not waiting: in bursts of 50 across event-loop turns, as typing arrives: the server applies what arrives in one
    // turn together and checks the thresholds after each such batch.
    for (let i = 0; i < N; i++) {
      writer.doc.getArray<number>('a').push([i])
      if (i % 50 === 49) await new Promise(resolve => setTimeout(resolve, 2))
    }
    await waitFor(async () => s.metrics.hot.messagesIn[0]! >= N + 1, 10_000, 'server received every edit')
    writer.ws.terminate()
    await waitFor(() => s.rooms.size === 0, 20_000, 'unload') // after the compaction running then, and one of the rest
    const compactions = (await s.metrics.compactions.get()).values[0]?.value ?? 0
    // While the edits arrive (each compaction covers what the log held when it started; how many depends
    // on how long the merges take), and once more on unload unless nothing was left.
    expect(compactions).toBeGreaterThanOrEqual(2)
    // the stored log is bounded by the threshold no matter how many updates the doc received
    const docs = s.db!.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' })
    let logKeys = 0
    for await (const _ of docs.keys({ gt: 'u!big!', lt: 'u!big!~' })) logKeys++
    expect(logKeys).toBeLessThanOrEqual(200)
    const reader = new RawClient(`${s.wsUrl}/big`)
    await waitFor(() => reader.synced)
    expect(reader.doc.getArray('a').length).toBe(N)
    reader.ws.terminate()
    await s.close()
  })

  it('a compaction merges in the worker while the room keeps accepting updates; the log keeps what came after its cut', async () => {
    const held = new HeldMerger()
    const s = await startServer({ compactMaxEntries: 20, unloadGraceMs: 50 }, { merger: held })
    const writer = new RawClient(`${s.wsUrl}/held`)
    const watcher = new RawClient(`${s.wsUrl}/held`)
    await waitFor(() => writer.synced && watcher.synced)
    const map = writer.doc.getMap<number>('m')
    const edit = async (from: number, to: number) => {
      for (let i = from; i < to; i++) { map.set(`k${i}`, i); if (i % 5 === 4) await new Promise(resolve => setTimeout(resolve, 1)) }
      await waitFor(() => watcher.doc.getMap('m').size === to, 5000, 'the watcher to receive the edits')
    }
    await edit(0, 30) // past the threshold: a compaction starts, and its merge is held once done
    await waitFor(() => held.waiting === 1, 30_000, 'a merge held') // a worker starts: slow on a loaded machine
    await edit(30, 50) // accepted, broadcast and logged while the compaction runs
    expect(await compactionsOf(s)).toBe(0)
    // The store's state once the snapshot lands: snapshot + the log entries at or above the watermark.
    held.release()
    await waitFor(async () => (await compactionsOf(s)) === 1, 5000, 'the compaction to end')
    const stored = await waitForStored(s.db!, 'held')
    const inSnapshot = new Y.Doc(); Y.applyUpdate(inSnapshot, stored.snapshot)
    const snapshotKeys = [...inSnapshot.getMap('m').keys()]
    // Each logged update sets one key; read alone it cannot apply (its client's earlier clocks are in the snapshot).
    const logKeys = stored.log.flatMap(u => Y.decodeUpdate(u).structs.flatMap(st => st instanceof Y.Item && st.parentSub ? [st.parentSub] : []))
    expect(logKeys.length).toBeGreaterThanOrEqual(20) // k30…k49 came after the cut
    expect(new Set([...snapshotKeys, ...logKeys]).size).toBe(50)
    expect(snapshotKeys.length + logKeys.length).toBe(50) // nothing in both: only covered entries were dropped
    // The room goes on from the snapshot: a device joining now, and a cold load, get everything.
    await edit(50, 55)
    const joiner = new RawClient(`${s.wsUrl}/held`)
    await waitFor(() => joiner.synced && joiner.doc.getMap('m').size === 55, 5000, 'the joiner to sync')
    held.open()
    for (const c of [writer, watcher, joiner]) c.ws.terminate()
    await waitFor(() => s.rooms.size === 0, 5000, 'unload')
    const reader = new RawClient(`${s.wsUrl}/held`)
    await waitFor(() => reader.synced)
    expect(reader.doc.getMap('m').toJSON()).toEqual(map.toJSON())
    reader.ws.terminate()
    await s.close()
  })

  it('a device that syncs while a compaction runs gets everything, and the room and the store stay whole', async () => {
    const held = new HeldMerger()
    const s = await startServer({ compactMaxEntries: 20, unloadGraceMs: 50 }, { merger: held })
    const writer = new RawClient(`${s.wsUrl}/joined`)
    const watcher = new RawClient(`${s.wsUrl}/joined`)
    await waitFor(() => writer.synced && watcher.synced)
    const text = writer.doc.getText('t')
    const type = async (from: number, to: number) => {
      for (let i = from; i < to; i++) { text.insert(text.length, `${i} `); if (i % 5 === 4) await new Promise(resolve => setTimeout(resolve, 1)) }
      await waitFor(() => watcher.text() === text.toString(), 5000, 'the watcher to receive the edits')
    }
    await type(0, 30)
    await waitFor(() => held.waiting === 1, 30_000, 'a merge held') // a worker starts: slow on a loaded machine
    await type(30, 40)
    const joiner = new RawClient(`${s.wsUrl}/joined`) // its sync merges the room on the event loop
    await waitFor(() => joiner.synced && joiner.text() === text.toString(), 5000, 'the joiner to sync')
    held.release()
    // It ends, and another starts: the log after its cut is due again (merged already by the sync: no worker).
    await waitFor(async () => (await compactionsOf(s)) >= 1, 5000, 'the compaction to end')
    await type(40, 45)
    const late = new RawClient(`${s.wsUrl}/joined`)
    await waitFor(() => late.synced && late.text() === text.toString(), 5000, 'a later device to sync')
    const replayed = (stored: { snapshot: Uint8Array, log: Uint8Array[] }) => {
      const replay = new Y.Doc()
      for (const u of [stored.snapshot, ...stored.log]) Y.applyUpdate(replay, u)
      return replay.getText('t').toString()
    }
    const stored = await waitForStored(s.db!, 'joined', st => replayed(st) === text.toString())
    expect(replayed(stored)).toBe(text.toString())
    held.open()
    for (const c of [writer, watcher, joiner, late]) c.ws.terminate()
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
    const settled = async () => { for (const room of await s.rooms.loaded()) await room.settled() }
    await smallEdits(0, 30) // past 20 entries, and nothing was snapshotted yet: compacts into a ~40 KB snapshot
    await waitFor(async () => (await compactions()) === 1, 5000, 'the first compaction')
    await smallEdits(30, 150) // 150 entries of ~15 B: far past 20, but the log is < half the snapshot
    await settled()
    expect(await compactions()).toBe(1)
    await smallEdits(180, 60) // past 10 × 20 entries since the snapshot: compacts regardless
    await waitFor(async () => (await compactions()) === 2, 5000, 'the second compaction')
    await settled()
    expect(await compactions()).toBe(2)
    writer.ws.terminate()
    await s.close()
  })
})
