import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLogger } from '../../server/observe/logger.js'
import { openPostgresStores, type PostgresStores } from '../../server/storage/postgres/index.js'
import { CutProxy } from '../storage/cut-proxy.js'
import { useTestDatabase } from '../storage/postgres.js'

// Two stores on one database: two nodes of a cluster holding the same document.
const db = useTestDatabase()
const silent = createLogger('silent')
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

const node = async (opts: { leaseMs?: number, url?: string } = {}): Promise<PostgresStores> => {
  const s = await openPostgresStores(opts.url ?? db.url, { flushIntervalMs: 5, maxBatchOps: 1000, logger: silent, leaseMs: opts.leaseMs })
  cleanups.push(() => s.close())
  return s
}
const name = () => `doc-${randomUUID().slice(0, 8)}`
/** A device editing through `s`: every update appended there; returns the keys of its appends. */
const editor = (s: PostgresStores, doc: string, ydoc = new Y.Doc()) => {
  const keys: string[] = []
  ydoc.on('update', (u: Uint8Array) => keys.push(s.docs.append(doc, u)))
  return { ydoc, keys }
}
const text = (update: Uint8Array | null) => {
  const d = new Y.Doc()
  if (update) Y.applyUpdate(d, update)
  return d.getText('t').toString()
}
const rows = async (s: PostgresStores, doc: string) =>
  (await s.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM doc_updates WHERE name = $1', [doc])).rows[0]!.n

describe('compaction across nodes (PostgreSQL lease and fence)', () => {
  it('one node holds the lease at a time; its snapshot records the stream position it covers', async () => {
    const [a, b] = [await node(), await node()]
    const doc = name()
    await a.docs.load(doc)
    await b.docs.load(doc)
    const onA = editor(a, doc)
    onA.ydoc.getText('t').insert(0, 'a1 ')
    await a.docs.flush()
    const claim = await a.docs.claimCompaction(doc)
    expect(claim).not.toBeNull()
    expect(await b.docs.claimCompaction(doc)).toBeNull() // A holds it
    expect(await a.docs.claimCompaction(doc)).not.toBeNull() // and renews it
    expect(await a.docs.compact(doc, Y.encodeStateAsUpdate(onA.ydoc), { token: claim!.token + 1, position: '5-0' })).toBe(true)
    expect(await rows(a, doc)).toBe(0)
    const loaded = await (await node()).docs.load(doc)
    expect(loaded).toMatchObject({ position: '5-0', logEntries: 0 })
    expect(text(loaded.update)).toBe('a1 ')
    // Closing A frees its lease: B compacts at once.
    await a.close()
    expect(await b.docs.claimCompaction(doc)).not.toBeNull()
  })

  it('appends of both nodes are all kept, and a compaction naming the other node\'s keys deletes exactly those rows', async () => {
    const [a, b] = [await node(), await node()]
    const doc = name()
    await a.docs.load(doc)
    await b.docs.load(doc)
    const shared = new Y.Doc()
    const aKeys: string[] = []
    const bKeys: string[] = []
    // Alternate writers, as two nodes accepting edits of one document.
    for (let i = 0; i < 10; i++) {
      const before = Y.encodeStateVector(shared)
      shared.getText('t').insert(shared.getText('t').length, String(i))
      const u = Y.encodeStateAsUpdate(shared, before)
      if (i % 2 === 0) aKeys.push(a.docs.append(doc, u))
      else bKeys.push(b.docs.append(doc, u))
    }
    await Promise.all([a.docs.flush(), b.docs.flush()])
    expect(await rows(a, doc)).toBe(10)
    expect(text((await (await node()).docs.load(doc)).update)).toBe('0123456789')
    // B's last update has not reached A yet: A's snapshot names the others only.
    const claim = await a.docs.claimCompaction(doc)
    expect(await a.docs.compact(doc, Y.encodeStateAsUpdate(shared), { token: claim!.token, remote: bKeys.slice(0, 4) })).toBe(true)
    expect(await rows(a, doc)).toBe(1)
    const loaded = await (await node()).docs.load(doc)
    expect(loaded.logEntries).toBe(1)
    expect(loaded.keys).toEqual([bKeys[4]])
    expect(text(loaded.update)).toBe('0123456789')
  })

  it('a compaction whose lease another node took since writes nothing (fenced out)', async () => {
    const a = await node({ leaseMs: 0 }) // its lease is over as soon as it is granted
    const b = await node()
    const doc = name()
    await a.docs.load(doc)
    await b.docs.load(doc)
    const onA = editor(a, doc)
    onA.ydoc.getText('t').insert(0, 'kept')
    await a.docs.flush()
    const stale = await a.docs.claimCompaction(doc)
    const fresh = await b.docs.claimCompaction(doc)
    expect(fresh!.token).toBeGreaterThan(stale!.token)
    // A's snapshot would drop its own rows; a newer holder exists, so nothing of it lands.
    expect(await a.docs.compact(doc, Y.encodeStateAsUpdate(new Y.Doc()), { token: stale!.token })).toBe(false)
    expect(await rows(a, doc)).toBe(1)
    const loaded = await (await node()).docs.load(doc)
    expect(loaded.snapshotBytes).toBe(0)
    expect(text(loaded.update)).toBe('kept')
  })

  it('the next holder gets the snapshot another node wrote, to merge before replacing it', async () => {
    const a = await node({ leaseMs: 0 })
    const b = await node()
    const doc = name()
    await a.docs.load(doc)
    await b.docs.load(doc) // before A's snapshot: B has not seen it
    const onA = editor(a, doc)
    onA.ydoc.getText('t').insert(0, 'only on A')
    const claimA = await a.docs.claimCompaction(doc)
    const snapshotA = Y.encodeStateAsUpdate(onA.ydoc)
    expect(await a.docs.compact(doc, snapshotA, { token: claimA!.token })).toBe(true)
    const claimB = await b.docs.claimCompaction(doc)
    expect(claimB!.snapshot).not.toBeNull()
    expect(text(claimB!.snapshot)).toBe('only on A')
    // Once B wrote one itself (holding A's), its next claim brings nothing new.
    expect(await b.docs.compact(doc, claimB!.snapshot!, { token: claimB!.token })).toBe(true)
    expect((await b.docs.claimCompaction(doc))!.snapshot).toBeNull()
  })

  it('a compaction cut off mid-transaction loses nothing and is written by its retry', async () => {
    const proxy = await CutProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) })
    cleanups.push(() => proxy.close())
    const url = new URL(db.url)
    url.port = String(proxy.port)
    const a = await node({ url: url.toString() })
    const doc = name()
    await a.docs.load(doc)
    const onA = editor(a, doc)
    for (let i = 0; i < 5; i++) onA.ydoc.getText('t').insert(i, String(i))
    await a.docs.flush()
    const claim = await a.docs.claimCompaction(doc)
    proxy.arm('DELETE') // the compaction's DELETE runs, then its connection dies before COMMIT
    const written = a.docs.compact(doc, Y.encodeStateAsUpdate(onA.ydoc), { token: claim!.token })
    await a.docs.flush().catch(() => {})
    expect(proxy.cuts).toBe(1)
    const reader = await node()
    const during = await reader.docs.load(doc)
    expect(text(during.update)).toBe('01234')
    expect(await written).toBe(true) // retried with backoff
    expect(await rows(reader, doc)).toBe(0)
    expect(text((await reader.docs.load(doc)).update)).toBe('01234')
  })
})
