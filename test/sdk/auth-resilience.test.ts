import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/server.js'
import { fixture, listDir, PASSWORD, identityServer, newEmail as freshEmail, watchSessionEvents } from './helpers.js'
import { FileProfileStore, type FetchLike } from '../../client/node.js'

// Token expiry without in-band renewal (close 4401), server outages, logout, and the profile lock file.
const f = fixture()
afterEach(() => f.cleanup())

const identity = (o = {}) => identityServer(f, o)
const newEmail = () => freshEmail('sdk-r')
const watch = watchSessionEvents

describe('sdk auth resilience', () => {
  it('a socket closed 4401 refreshes and reconnects at once; edits made meanwhile arrive', async () => {
    const s = await identity({ accessTokenTtlMs: 1000 })
    const email = newEmail()
    // No timer: the token runs out on the socket and the server closes it with 4401.
    const a = await f.signedIn(s, { autoRefresh: false }, email)
    const b = await f.client(s)
    await b.login(email, PASSWORD)
    const ev = [...watch(a), ...watch(b)]
    const da = await a.openDoc(a.sessionDoc!)
    const db = await b.openDoc(b.sessionDoc!)
    await Promise.all([da.whenSynced(), db.whenSynced()])
    const arr = da.doc.getArray<number>('n')
    arr.push([0])
    // The token runs out: the server closes the socket (4401); edits made while it is down still arrive.
    const closed = new Promise<void>(resolve => da.on('status', st => {
      if (st !== 'offline') return
      for (let i = 1; i < 30; i++) arr.push([i])
      resolve()
    }))
    await closed
    await waitFor(() => db.doc.getArray('n').length === 30, 10_000, 'edits on b')
    await waitFor(() => !da.hasUnsyncedChanges)
    expect(db.doc.getArray('n').toArray()).toEqual([...Array(30).keys()])
    expect(ev).toEqual([])
  })

  it('a server outage longer than the token lifetime is "offline", not "session ended"', async () => {
    let s = await identity({ accessTokenTtlMs: 1000 })
    const port = Number(new URL(s.url).port)
    const dataDir = s.config.dataDir
    const email = newEmail()
    // Counts the refreshes that found the server down.
    let failedRefreshes = 0
    const fetch: FetchLike = (input, init) => globalThis.fetch(input, init).catch((err: unknown) => {
      if (input.endsWith('/auth/refresh')) failedRefreshes++
      throw err
    })
    const a = await f.signedIn(s, { fetch }, email)
    const ev = watch(a)
    const da = await a.openDoc(a.sessionDoc!)
    await da.whenSynced()
    await s.close()
    da.doc.getText('t').insert(0, 'written while the server was down')
    // Past the token's expiry: the timer's refreshes keep failing with network errors.
    await waitFor(() => failedRefreshes >= 3 && Date.now() > a.auth.current!.accessTokenExpiresAt, 15_000, 'refreshes failing past expiry')
    expect(ev).toEqual([])
    expect(da.hasUnsyncedChanges).toBe(true)
    s = await identity({ port, dataDir, accessTokenTtlMs: 1000 })
    await waitFor(() => da.status === 'synced' && !da.hasUnsyncedChanges, 15_000, 'resynced after outage')
    const b = await f.client(s)
    await b.login(email, PASSWORD)
    const db = await b.openDoc(b.sessionDoc!)
    await waitFor(() => db.doc.getText('t').toString() === 'written while the server was down')
    expect(ev).toEqual([])
  })

  it('logout({ wipe: true }) ends the session once and deletes the profile', async () => {
    const s = await identity()
    const email = newEmail()
    const profileDir = await f.profileDir()
    const a = await f.signedIn(s, { profileDir }, email)
    const ev = watch(a)
    const da = await a.openDoc(a.sessionDoc!)
    await da.whenSynced()
    const sid = a.auth.sessionId
    await a.logout({ wipe: true })
    expect(ev).toEqual(['ended:logout'])
    expect(await listDir(profileDir)).toEqual([])
    const b = await f.client(s)
    await b.login(email, PASSWORD)
    expect((await b.api.listSessions()).sessions.map(x => x.id)).not.toContain(sid)
  })

  it('profile files are private; the lock file excludes concurrent holders and is taken over when stale', async () => {
    const dir = await f.profileDir()
    const store = new FileProfileStore(path.join(dir, 'p'))
    const { getOrCreateDeviceKey } = await import('../../client/device-key.js')
    await getOrCreateDeviceKey(store)
    await store.setTokens({ accessToken: 'a', refreshToken: 'r', sessionId: 's', userId: 'u', accessTokenExpiresAt: 0, sessionDoc: 'session:u' })
    for (const file of ['key.json', 'tokens.json']) {
      expect((await fs.stat(path.join(store.dir, file))).mode & 0o777).toBe(0o600)
    }
    expect((await fs.stat(store.dir)).mode & 0o777).toBe(0o700)
    // two holders (as from two processes: the store's lock alone, no in-process mutex)
    let inside = 0; let maxInside = 0
    const hold = () => store.withLock(async () => {
      maxInside = Math.max(maxInside, ++inside)
      await new Promise(r => setTimeout(r, 30)) // holding a while gives the others the chance to overlap
      inside--
    })
    await Promise.all([hold(), hold(), hold()])
    expect(maxInside).toBe(1)
    // a crashed holder's lock older than 10 s is taken over
    const lock = path.join(store.dir, 'refresh.lock')
    await fs.writeFile(lock, '99999')
    const old = new Date(Date.now() - 11_000)
    await fs.utimes(lock, old, old)
    // (a lock that was not taken over would be waited for, 30 s, then refused: the test times out)
    await store.withLock(async () => {
      expect(await fs.readFile(lock, 'utf8')).toBe(String(process.pid))
    })
  })
})
