import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { DocStore } from '../../server/storage/doc-store.js'
import { levelBackend, postgresBackend, type Backend, type StoreOptions, type Stores } from './backends.js'

// The same cases against every DocStore implementation.
const backends: Backend[] = [levelBackend(), postgresBackend()]

describe.each(backends)('DocStore contract: $name', backend => {
  const open: Stores[] = []
  afterEach(async () => { for (const s of open.splice(0)) await s.close().catch(() => {}) })

  const start = async (place?: string, opts?: StoreOptions) => {
    const where = place ?? await backend.place()
    const stores = await backend.open(where, opts)
    open.push(stores)
    return { ...stores, place: where }
  }
  /** Close the stores and open new ones on the same data: a server restart. */
  const restart = async (s: Stores & { place: string }, opts?: StoreOptions) => {
    open.splice(open.indexOf(s), 1)
    await s.close()
    return start(s.place, opts)
  }
  const name = () => `doc-${randomUUID().slice(0, 8)}`
  /** A Y.Doc whose every update is appended to `store` under `doc`. */
  const writer = (store: DocStore, doc: string) => {
    const ydoc = new Y.Doc()
    ydoc.on('update', (u: Uint8Array) => store.append(doc, u))
    return ydoc
  }
  const contents = (update: Uint8Array | null) => {
    const d = new Y.Doc()
    if (update) Y.applyUpdate(d, update)
    return { text: d.getText('t').toString(), items: d.getArray('a').toArray() }
  }

  it('a document never written loads empty', async () => {
    const s = await start()
    expect(await s.docs.load(name())).toEqual({ update: null, snapshotBytes: 0, logEntries: 0, logBytes: 0, position: '', keys: [] })
  })

  it('appends, flushes and loads the merged state after a restart', async () => {
    let s = await start()
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s.docs, doc)
    const sizes: number[] = []
    ydoc.on('update', (u: Uint8Array) => sizes.push(u.byteLength))
    for (let i = 0; i < 50; i++) ydoc.getArray('a').push([i])
    await s.docs.flush()
    s = await restart(s)
    const loaded = await s.docs.load(doc)
    expect(loaded).toMatchObject({ snapshotBytes: 0, logEntries: 50, logBytes: sizes.reduce((a, b) => a + b) })
    expect(contents(loaded.update).items).toEqual(ydoc.getArray('a').toArray())
  })

  it('flush() writes at once, whatever the batch window', async () => {
    let s = await start(undefined, { flushIntervalMs: 600_000 })
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s.docs, doc)
    ydoc.getText('t').insert(0, 'hello')
    await s.docs.flush()
    s = await restart(s)
    expect(contents((await s.docs.load(doc)).update).text).toBe('hello')
  })

  it('a window of 12,000 updates is written whole', async () => {
    let s = await start(undefined, { flushIntervalMs: 600_000, maxBatchOps: 100_000 })
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s.docs, doc)
    const text = ydoc.getText('t')
    for (let i = 0; i < 12_000; i++) text.insert(text.length, String(i % 10))
    await s.docs.flush()
    s = await restart(s)
    const loaded = await s.docs.load(doc)
    expect(loaded.logEntries).toBe(12_000)
    expect(contents(loaded.update).text).toBe(text.toString())
  })

  it('compaction replaces the snapshot and every log entry before it, queued or written', async () => {
    let s = await start()
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s.docs, doc)
    for (let i = 0; i < 30; i++) ydoc.getText('t').insert(0, `${i},`)
    await s.docs.flush() // half of the log is written, half is compacted while still queued
    for (let i = 30; i < 60; i++) ydoc.getText('t').insert(0, `${i},`)
    const snapshot = Y.encodeStateAsUpdate(ydoc)
    s.docs.compact(doc, snapshot)
    for (let i = 60; i < 65; i++) ydoc.getText('t').insert(0, `${i},`)
    await s.docs.flush()
    s = await restart(s)
    const loaded = await s.docs.load(doc)
    expect(loaded).toMatchObject({ snapshotBytes: snapshot.byteLength, logEntries: 5 })
    expect(contents(loaded.update).text).toBe(ydoc.getText('t').toString())
  })

  it('a compaction with updates pending keeps them in the log, written or still queued', async () => {
    let s = await start()
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s.docs, doc)
    for (let i = 0; i < 10; i++) ydoc.getArray('a').push([i])
    const snapshot = Y.encodeStateAsUpdate(ydoc) // what a merge started now covers
    for (let i = 10; i < 14; i++) ydoc.getArray('a').push([i])
    await s.docs.flush() // the four after the cut are written...
    for (let i = 14; i < 17; i++) ydoc.getArray('a').push([i]) // ...and three more are still queued
    s.docs.compact(doc, snapshot, { pending: 7 })
    await s.docs.flush()
    s = await restart(s)
    const loaded = await s.docs.load(doc)
    expect(loaded).toMatchObject({ snapshotBytes: snapshot.byteLength, logEntries: 7 })
    expect(contents(loaded.update).items).toEqual(ydoc.getArray('a').toArray())
  })

  it('a second compaction replaces the first; appends and compactions of one window stay in order', async () => {
    let s = await start(undefined, { flushIntervalMs: 600_000 })
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s.docs, doc)
    ydoc.getText('t').insert(0, 'a')
    s.docs.compact(doc, Y.encodeStateAsUpdate(ydoc))
    ydoc.getText('t').insert(1, 'b')
    ydoc.getText('t').insert(2, 'c')
    const second = Y.encodeStateAsUpdate(ydoc)
    s.docs.compact(doc, second)
    ydoc.getText('t').insert(3, 'd')
    await s.docs.flush() // all of it in one batch
    s = await restart(s)
    const loaded = await s.docs.load(doc)
    expect(loaded).toMatchObject({ snapshotBytes: second.byteLength, logEntries: 1 })
    expect(contents(loaded.update).text).toBe('abcd')
  })

  it('a claimed compaction resolves true once written; a reload reads its snapshot and the rest', async () => {
    let s = await start()
    const doc = name()
    await s.docs.load(doc)
    const ydoc = writer(s.docs, doc)
    for (let i = 0; i < 5; i++) ydoc.getArray('a').push([i])
    const claim = await s.docs.claimCompaction(doc)
    expect(claim).toMatchObject({ snapshot: null })
    const snapshot = Y.encodeStateAsUpdate(ydoc)
    ydoc.getArray('a').push([5])
    expect(await s.docs.compact(doc, snapshot, { pending: 1, token: claim!.token })).toBe(true)
    s = await restart(s)
    const loaded = await s.docs.load(doc)
    expect(loaded).toMatchObject({ snapshotBytes: snapshot.byteLength, logEntries: 1 })
    expect(contents(loaded.update).items).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('keeps documents apart and each one in order across many batches', async () => {
    let s = await start()
    const docs = [name(), name(), name()]
    const ydocs = []
    for (const d of docs) { await s.docs.load(d); ydocs.push(writer(s.docs, d)) }
    for (let round = 0; round < 20; round++) {
      for (const [i, ydoc] of ydocs.entries()) {
        ydoc.getText('t').insert(ydoc.getText('t').length, `${round}.${i};`)
        // A compaction now and then, and a flush in between some rounds: batches of every shape.
        if ((round + i) % 7 === 0) s.docs.compact(docs[i]!, Y.encodeStateAsUpdate(ydoc))
      }
      if (round % 3 === 0) await s.docs.flush()
    }
    await s.docs.flush()
    s = await restart(s)
    for (const [i, d] of docs.entries()) {
      expect(contents((await s.docs.load(d)).update).text).toBe(ydocs[i]!.getText('t').toString())
    }
  })

  it('destroy deletes snapshot and log for good; a loaded document cannot be destroyed', async () => {
    let s = await start()
    const doc = name()
    const kept = name()
    await s.docs.load(doc)
    await s.docs.load(kept)
    const ydoc = writer(s.docs, doc)
    writer(s.docs, kept).getText('t').insert(0, 'kept')
    ydoc.getText('t').insert(0, 'x')
    s.docs.compact(doc, Y.encodeStateAsUpdate(ydoc))
    ydoc.getText('t').insert(0, 'y')
    await expect(s.docs.destroy(doc)).rejects.toThrow(/while loaded/)
    s.docs.release(doc)
    await s.docs.destroy(doc) // flushes first: nothing queued for it lands after the delete
    expect(await s.docs.load(doc)).toEqual({ update: null, snapshotBytes: 0, logEntries: 0, logBytes: 0, position: '', keys: [] })
    s = await restart(s)
    expect((await s.docs.load(doc)).update).toBeNull()
    expect(contents((await s.docs.load(kept)).update).text).toBe('kept')
  })

  it('writing a document that was not loaded is a programming error', async () => {
    const s = await start()
    expect(() => s.docs.append(name(), new Uint8Array([0, 0]))).toThrow(/before it was loaded/)
    expect(() => s.docs.compact(name(), new Uint8Array([0, 0]))).toThrow(/before it was loaded/)
  })
})
