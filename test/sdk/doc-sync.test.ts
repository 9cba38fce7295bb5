import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/server.js'
import * as Y from 'yjs'
import { fixture } from './helpers.js'
import { LevelDocCache } from '../../client/node.js'

// Document layer against the insecure (no-auth) server: sync, cache, offline, unsynced tracking.
const f = fixture()
afterEach(() => f.cleanup())

describe('sdk documents', () => {
  it('two devices converge and report synced / unsynced state', async () => {
    const s = await f.server()
    const a = await f.client(s, { anonymous: true, device: { name: 'laptop', platform: 'node' } })
    const b = await f.client(s, { anonymous: true, device: { name: 'phone', platform: 'node' } })
    const da = await a.openDoc('shared-1')
    const db = await b.openDoc('shared-1')
    await Promise.all([da.whenSynced(), db.whenSynced()])
    expect(da.hasUnsyncedChanges).toBe(false)
    const flips: boolean[] = []
    da.on('unsyncedChanges', u => flips.push(u))
    da.doc.getText('t').insert(0, 'hello ')
    expect(da.hasUnsyncedChanges).toBe(true)
    db.doc.getText('t').insert(0, 'world')
    await waitFor(() => da.doc.getText('t').toString() === db.doc.getText('t').toString() && da.doc.getText('t').length === 11)
    await waitFor(() => !da.hasUnsyncedChanges && !db.hasUnsyncedChanges, 3000, 'confirmed')
    expect(flips).toEqual([true, false])
    // a deletion adds no clock to the state vector, yet must count as unsynced until confirmed
    da.doc.getText('t').delete(0, 1)
    expect(da.hasUnsyncedChanges).toBe(true)
    await waitFor(() => !da.hasUnsyncedChanges, 3000, 'delete confirmed')
    await waitFor(() => db.doc.getText('t').length === 10)
    // awareness carries the device
    da.awareness.setLocalState({ cursor: 3 })
    await waitFor(() => [...db.awareness.getStates().values()].some(st => (st as { device?: { name: string }, cursor?: number }).device?.name === 'laptop' && st.cursor === 3))
    // a name the server would refuse is refused before any socket opens
    await expect(a.openDoc('no spaces/or slashes')).rejects.toThrow('invalid document name "no spaces/or slashes"')
    await expect(a.openDoc('x'.repeat(129))).rejects.toThrow('invalid document name')
  })

  it('keeps offline edits in the cache across a server restart and a client restart, then merges', async () => {
    const s = await f.server()
    const port = Number(new URL(s.url).port)
    const dataDir = s.config.dataDir
    const profA = await f.profileDir()
    const a = await f.client(s, { anonymous: true, profileDir: profA })
    const b = await f.client(s, { anonymous: true })
    const da = await a.openDoc('offline-doc')
    const db = await b.openDoc('offline-doc')
    await Promise.all([da.whenSynced(), db.whenSynced()])
    da.doc.getText('t').insert(0, 'base')
    await waitFor(() => db.doc.getText('t').toString() === 'base')
    await waitFor(() => !da.hasUnsyncedChanges)

    await s.close()
    await waitFor(() => da.status === 'offline' || da.status === 'connecting')
    da.doc.getText('t').insert(4, ' from-a')
    db.doc.getText('t').insert(0, 'b-says ')
    expect(da.hasUnsyncedChanges).toBe(true)
    // device A quits while offline: the edit must survive in its profile cache
    await da.flush()
    await a.close()
    const a2 = await f.client(`http://127.0.0.1:${port}`, { anonymous: true, profileDir: profA })
    const da2 = await a2.openDoc('offline-doc')
    expect(da2.doc.getText('t').toString()).toBe('base from-a') // opened from cache, server still down
    expect(da2.hasUnsyncedChanges).toBe(true)

    await f.server({ port, dataDir })
    await waitFor(() => da2.doc.getText('t').toString() === db.doc.getText('t').toString() &&
      da2.doc.getText('t').toString().includes('from-a') && da2.doc.getText('t').toString().includes('b-says'), 10_000, 'merge after restart')
    await waitFor(() => !da2.hasUnsyncedChanges && !db.hasUnsyncedChanges, 5000, 'confirmed after restart')
    expect(da2.doc.getText('t').toString()).toBe('b-says base from-a')
  })

  it('after a restart, cached content the server held is not "unsynced"; unconfirmed edits (deletions too) still are', async () => {
    const s = await f.server()
    const port = Number(new URL(s.url).port)
    const profA = await f.profileDir()
    const a = await f.client(s, { anonymous: true, profileDir: profA })
    const b = await f.client(s, { anonymous: true })
    const da = await a.openDoc('restart-doc')
    const db = await b.openDoc('restart-doc')
    await Promise.all([da.whenSynced(), db.whenSynced()])
    da.doc.getText('t').insert(0, 'mine ')
    db.doc.getText('t').insert(0, 'theirs ') // arrives from the server: held by it
    await waitFor(() => da.doc.getText('t').length === 12 && !da.hasUnsyncedChanges, 5000, 'synced')
    await a.close()
    await s.close() // the reopen below is offline: only the cache can answer

    const a2 = await f.client(`http://127.0.0.1:${port}`, { anonymous: true, profileDir: profA })
    const da2 = await a2.openDoc('restart-doc')
    expect(da2.doc.getText('t').length).toBe(12)
    expect(da2.hasUnsyncedChanges).toBe(false)
    // A deletion-only edit made offline, then another restart: still unsynced.
    da2.doc.getText('t').delete(0, 1)
    expect(da2.hasUnsyncedChanges).toBe(true)
    await da2.flush()
    await a2.close()
    const a3 = await f.client(`http://127.0.0.1:${port}`, { anonymous: true, profileDir: profA })
    const da3 = await a3.openDoc('restart-doc')
    expect(da3.doc.getText('t').length).toBe(11)
    expect(da3.hasUnsyncedChanges).toBe(true)
  })

  it('the LevelDB cache keeps the appends of two writers of one profile through compactions', async () => {
    const dir = (await f.profileDir()) + '/cache'
    const c1 = new LevelDocCache(dir, 3); const c2 = new LevelDocCache(dir, 3)
    const d1 = new Y.Doc(); const d2 = new Y.Doc()
    const h1 = await c1.open('shared', d1); const h2 = await c2.open('shared', d2)
    for (let i = 0; i < 10; i++) { d1.getArray('a').push([`one-${i}`]); d2.getArray('a').push([`two-${i}`]) }
    await h1.flush(); await h2.flush()
    await c1.close(); await c2.close()
    const c3 = new LevelDocCache(dir, 3)
    const d3 = new Y.Doc()
    const h3 = await c3.open('shared', d3)
    expect(d3.getArray('a').length).toBe(20)
    await h3.flush() // opening compacts (queued behind the load): wait for it
    const keys = await (async () => { const db = (c3 as unknown as { db: { keys (): AsyncIterable<string> } }).db; const k: string[] = []; for await (const x of db.keys()) k.push(x); return k })()
    expect(keys.length).toBeLessThan(10) // compacted, not 20 single appends
    await c3.close()
  })
})
