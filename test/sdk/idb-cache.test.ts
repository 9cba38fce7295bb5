import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startServer, waitFor } from '../helpers/server.js'
import { createBrowserClient, type BrowserClientOptions } from '../../client/browser.js'
import type { SyncClient, WebSocketCtor } from '../../client/index.js'

// The browser storage path (IdbProfileStore + y-indexeddb) in Node, over fake-indexeddb.
type Server = Awaited<ReturnType<typeof startServer>>
const servers: Server[] = []
const clients: SyncClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
  for (const s of servers.splice(0)) await s.close()
})
const client = async (url: string, o: Partial<BrowserClientOptions> = {}) => {
  const c = await createBrowserClient({
    url, device: { name: 'browser', platform: 'web' }, WebSocket: WebSocket as unknown as WebSocketCtor,
    backoff: { baseMs: 50, maxMs: 500 }, anonymous: true, ...o
  })
  clients.push(c)
  return c
}

describe('sdk browser storage (y-indexeddb)', () => {
  it('opens from IndexedDB offline and uploads offline edits later', async () => {
    let s = await startServer(); servers.push(s)
    const port = Number(new URL(s.url).port)
    const dataDir = s.config.dataDir
    const a = await client(s.url, { profileId: 'tab-a' })
    const da = await a.openDoc('idb-doc')
    await da.whenSynced()
    da.doc.getMap('prefs').set('theme', 'dark')
    await waitFor(() => !da.hasUnsyncedChanges)
    await s.close(); servers.splice(0)
    da.doc.getMap('prefs').set('lang', 'fr')
    await a.close(); clients.splice(0)

    // "reload the page" while the server is still down: state comes from IndexedDB
    const a2 = await client(`http://127.0.0.1:${port}`, { profileId: 'tab-a' })
    const da2 = await a2.openDoc('idb-doc')
    expect(da2.doc.getMap('prefs').toJSON()).toEqual({ theme: 'dark', lang: 'fr' })
    expect(da2.hasUnsyncedChanges).toBe(true)

    s = await startServer({ port, dataDir }); servers.push(s)
    const b = await client(s.url, { profileId: 'tab-b' })
    const db = await b.openDoc('idb-doc')
    await waitFor(() => db.doc.getMap('prefs').get('lang') === 'fr', 10_000, 'offline edit uploaded')
    await waitFor(() => !da2.hasUnsyncedChanges)
  })

  it('a reload of a fully synced document offline shows no unsynced changes', async () => {
    const s = await startServer(); servers.push(s)
    const port = Number(new URL(s.url).port)
    const a = await client(s.url, { profileId: 'tab-sv' })
    const da = await a.openDoc('idb-sv-doc')
    await da.whenSynced()
    da.doc.getMap('prefs').set('theme', 'dark')
    await waitFor(() => !da.hasUnsyncedChanges)
    await a.close(); clients.splice(0)
    await s.close(); servers.splice(0)
    const a2 = await client(`http://127.0.0.1:${port}`, { profileId: 'tab-sv' })
    const da2 = await a2.openDoc('idb-sv-doc')
    expect(da2.doc.getMap('prefs').get('theme')).toBe('dark')
    expect(da2.hasUnsyncedChanges).toBe(false)
  })

  it('profile store keeps a non-extractable key and tokens; wipe deletes every database', async () => {
    const c = await client('http://127.0.0.1:1', { profileId: 'wipe-me' })
    const { IdbProfileStore } = await import('../../client/browser.js')
    const store = new IdbProfileStore('wipe-me')
    const { getOrCreateDeviceKey } = await import('../../client/device-key.js')
    const key = await getOrCreateDeviceKey(store)
    expect(key.privateKey.extractable).toBe(false)
    const again = await store.getKey()
    expect(again?.publicJwk).toEqual(key.publicJwk)
    const d = await c.openDoc('local-only')
    d.doc.getText('t').insert(0, 'x')
    const before = (await indexedDB.databases()).map(x => x.name)
    expect(before).toEqual(expect.arrayContaining(['sync-sdk-profile:wipe-me', 'sync-sdk-doc:wipe-me:local-only']))
    await c.wipe()
    const after = (await indexedDB.databases()).map(x => x.name ?? '')
    expect(after.filter(n => n.includes('wipe-me'))).toEqual([])
  })

  it('two tabs of one IndexedDB profile refresh together, serialized through navigator.locks', async () => {
    // Node 20 has no Web Locks: a minimal exclusive LockManager, recording that the SDK used it.
    const requested: string[] = []
    const tails = new Map<string, Promise<unknown>>()
    const locks = {
      request: <T>(name: string, cb: () => Promise<T>): Promise<T> => {
        requested.push(name)
        const run = (tails.get(name) ?? Promise.resolve()).then(cb, cb)
        tails.set(name, run.catch(() => {}))
        return run
      }
    }
    const hadNavigator = 'navigator' in globalThis
    const prev = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
    Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true, writable: true })
    try {
      const s = await startServer({ insecureNoAuth: false, refreshGraceMs: 0 }); servers.push(s)
      const email = `tabs-${Date.now()}@example.com`
      const t1 = await client(s.url, { profileId: 'tabs', anonymous: false })
      await t1.register(email, 'correct horse battery staple')
      await t1.login(email, 'correct horse battery staple')
      const t2 = await client(s.url, { profileId: 'tabs', anonymous: false })
      expect(t2.signedIn).toBe(true)
      const ended: string[] = []
      t1.on('sessionEnded', e => ended.push(e.reason)); t2.on('sessionEnded', e => ended.push(e.reason))
      const rejected = t1.auth.current!.accessToken
      const [a, b] = await Promise.all([t1.auth.refresh(rejected), t2.auth.refresh(rejected)])
      expect(a).toBe(b)
      expect(ended).toEqual([])
      expect(requested.filter(n => n === 'sync-sdk-refresh:tabs').length).toBeGreaterThanOrEqual(2)
      expect((await t2.api.listSessions()).sessions).toHaveLength(1)
    } finally {
      if (hadNavigator && prev) Object.defineProperty(globalThis, 'navigator', prev)
      else delete (globalThis as { navigator?: unknown }).navigator
    }
  })
})
