import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/server.js'
import { fixture, listDir, PASSWORD, identityServer, newEmail as freshEmail, watchSessionEvents } from './helpers.js'

// The SDK against the real identity server: DPoP login, rotation, expiry, revocation, re-login.
const f = fixture()
afterEach(() => f.cleanup())

const identity = (o = {}) => identityServer(f, o)
const newEmail = () => freshEmail('sdk')

const watch = watchSessionEvents

describe('sdk with identity', () => {
  it('two devices of one user converge, session-state helpers merge', async () => {
    const s = await identity()
    const email = newEmail()
    const a = await f.client(s, { device: { name: 'laptop', platform: 'node' } })
    await a.register(email, PASSWORD)
    expect((await a.login(email, PASSWORD)).mfaRequired).toBe(false)
    const b = await f.client(s, { device: { name: 'phone', platform: 'node' } })
    await b.login(email, PASSWORD)
    expect(a.sessionDoc).toBe(`session:${a.userId}`)
    const sa = await a.openSessionState()
    const sb = await b.openSessionState()
    await Promise.all([sa.handle.whenSynced(), sb.handle.whenSynced()])

    sa.state.setPreference('theme', 'dark')
    const t1 = sa.state.addTask('write report')
    sa.state.setPlayback('episode-7', 120)
    sa.state.setLastActive('draft:abc', { index: 5 })
    await waitFor(() => sb.state.listTasks().length === 1 && sb.state.getPreference('theme') === 'dark')
    // concurrent edits of one task on two devices both survive
    sb.state.setTaskDone(t1, true)
    sa.state.renameTask(t1, 'write the report')
    await waitFor(() => JSON.stringify(sa.state.listTasks()) === JSON.stringify(sb.state.listTasks()) && sa.state.listTasks()[0]!.done)
    expect(sb.state.listTasks()[0]).toMatchObject({ title: 'write the report', done: true })
    // playback: newest write wins whichever device wrote it
    const first = sa.state.getPlayback('episode-7')!.at
    await waitFor(() => Date.now() > first)
    sb.state.setPlayback('episode-7', 300)
    await waitFor(() => sa.state.getPlayback('episode-7')?.seconds === 300)
    expect(sb.state.continueWhereLeftOff()).toMatchObject({ deviceName: 'laptop', docName: 'draft:abc', cursor: { index: 5 } })
    expect(sa.state.continueWhereLeftOff()).toBeNull()
    // API wrappers
    const { sessions } = await a.api.listSessions()
    expect(sessions).toHaveLength(2)
    expect(sessions.find(x => x.current)?.deviceName).toBe('laptop')
  })

  it('access-token expiry mid-edit loses nothing and surfaces no error', async () => {
    // Real time is the subject: the client renews a quarter of the lifetime early, a margin a loaded
    // machine must be able to meet, and the edits run for two and a half lifetimes.
    const ttlMs = 4000
    const edits = Math.ceil(2.5 * ttlMs / 50)
    const s = await identity({ accessTokenTtlMs: ttlMs })
    const email = newEmail()
    const a = await f.signedIn(s, { device: { name: 'a', platform: 'node' } }, email)
    const b = await f.client(s, { device: { name: 'b', platform: 'node' } })
    await b.login(email, PASSWORD)
    const evA = watch(a); const evB = watch(b)
    const da = await a.openDoc(a.sessionDoc!)
    const db = await b.openDoc(b.sessionDoc!)
    const errors: Error[] = []
    da.on('error', e => errors.push(e)); db.on('error', e => errors.push(e))
    await Promise.all([da.whenSynced(), db.whenSynced()])
    const statuses: string[] = []
    da.on('status', st => statuses.push(st)); db.on('status', st => statuses.push(st))
    const arr = da.doc.getArray<number>('edits')
    for (let i = 0; i < edits; i++) {
      arr.push([i])
      await new Promise(r => setTimeout(r, 50)) // pacing: edits spread over several token lifetimes
    }
    await waitFor(() => db.doc.getArray('edits').length === edits, 30_000, 'all edits on b')
    await waitFor(() => !da.hasUnsyncedChanges, 30_000, 'a confirmed')
    expect(db.doc.getArray('edits').toArray()).toEqual([...Array(edits).keys()])
    expect(evA).toEqual([]); expect(evB).toEqual([]); expect(errors).toEqual([])
    // renewed in-band on the open sockets: they were never closed
    expect(statuses).toEqual([])
    expect(a.signedIn && b.signedIn).toBe(true)
  })

  it('two SDK instances sharing one profile refresh together without reuse detection', async () => {
    // No grace window: the server's lost-response allowance would hide a second presentation.
    const s = await identity({ accessTokenTtlMs: 1500, refreshGraceMs: 0 })
    const email = newEmail()
    const profileDir = await f.profileDir()
    const a1 = await f.signedIn(s, { profileDir }, email)
    const a2 = await f.client(s, { profileDir }) // picks the stored session up
    expect(a2.signedIn).toBe(true)
    const ev1 = watch(a1); const ev2 = watch(a2)
    const token = a1.auth.current!.accessToken
    // both are told the same token was rejected, at the same moment: only one may rotate
    const [t1, t2] = await Promise.all([a1.auth.refresh(token), a2.auth.refresh(token)])
    expect(t1).toBe(t2)
    expect(t1).not.toBe(token)
    // and the timers keep refreshing both for a few token lifetimes, with docs open
    const d1 = await a1.openDoc(a1.sessionDoc!)
    const d2 = await a2.openDoc(a2.sessionDoc!)
    await Promise.all([d1.whenSynced(), d2.whenSynced()])
    const seen = new Set<string>()
    a1.auth.on('token', t => seen.add(t.accessToken))
    a2.auth.on('token', t => seen.add(t.accessToken))
    await waitFor(() => seen.size >= 3, 10_000, 'three more rotations')
    d1.doc.getText('t').insert(0, 'still alive')
    await waitFor(() => d2.doc.getText('t').toString() === 'still alive')
    expect((await a2.api.listSessions()).sessions).toHaveLength(1)
    expect([...ev1, ...ev2]).toEqual([])
  })

  it('a revoked device gets revoked once, stops reconnecting and, with wipeOnRevoke, leaves no files', async () => {
    const s = await identity()
    const email = newEmail()
    const profileDir = await f.profileDir()
    const a = await f.signedIn(s, { profileDir, wipeOnRevoke: true, device: { name: 'lost-phone', platform: 'node' } }, email)
    const b = await f.client(s, { device: { name: 'laptop', platform: 'node' } })
    await b.login(email, PASSWORD)
    const ev = watch(a)
    let wiped = false
    a.on('wiped', () => { wiped = true })
    const da = await a.openDoc(a.sessionDoc!)
    await da.whenSynced()
    da.doc.getText('t').insert(0, 'secret')
    await da.flush()
    expect((await listDir(profileDir)).length).toBeGreaterThan(0)
    const statuses: string[] = []
    da.on('status', st => statuses.push(st))
    const victim = (await b.api.listSessions()).sessions.find(x => x.deviceName === 'lost-phone')!
    await b.api.revokeSession(victim.id)
    await waitFor(() => wiped, 5000, 'wiped')
    expect(ev).toEqual(['ended:signed_out_elsewhere', 'revoked:signed_out_elsewhere'])
    // A negative check with no event to wait for: a reconnect after the wipe would show within a second.
    await new Promise(r => setTimeout(r, 1000))
    expect(statuses.filter(x => x === 'connecting')).toEqual([])
    expect(await listDir(profileDir)).toEqual([])
    expect((await b.api.listSessions()).sessions.map(x => x.deviceName)).toEqual(['laptop'])
  })

  it('edits made after the session expired upload after re-login on the same device', async () => {
    const s = await identity({ absoluteLifetimeMs: 2500, accessTokenTtlMs: 1000 })
    const email = newEmail()
    const profileDir = await f.profileDir()
    const a = await f.signedIn(s, { profileDir }, email)
    const ev = watch(a)
    const da = await a.openDoc(a.sessionDoc!)
    await da.whenSynced()
    da.doc.getText('t').insert(0, 'before.')
    await waitFor(() => ev.length > 0, 8000, 'session expiry')
    expect(ev[0]).toBe('ended:expired_absolute')
    expect(a.signedIn).toBe(false)
    // signed out, still editing: kept in the cache, marked unsynced
    da.doc.getText('t').insert(7, 'during.')
    expect(da.hasUnsyncedChanges).toBe(true)
    await da.flush()
    // the app restarts before the user signs in again
    await a.close()
    const a2 = await f.client(s, { profileDir })
    expect(a2.signedIn).toBe(false)
    const da2 = await a2.openDoc(a.sessionDoc!)
    expect(da2.doc.getText('t').toString()).toBe('before.during.')
    await a2.login(email, PASSWORD)
    await da2.whenSynced()
    await waitFor(() => !da2.hasUnsyncedChanges, 5000, 'uploaded')
    const b = await f.client(s, { device: { name: 'other', platform: 'node' } })
    await b.login(email, PASSWORD)
    const db = await b.openDoc(b.sessionDoc!)
    await waitFor(() => db.doc.getText('t').toString() === 'before.during.', 5000, 'arrived on other device')
  })

  it('an instance in another process refreshing at the same moment is serialized by the lock file', async () => {
    const s = await identity({ refreshGraceMs: 0 })
    const email = newEmail()
    const profileDir = await f.profileDir()
    const a = await f.signedIn(s, { profileDir }, email)
    const ev = watch(a)
    const rejected = a.auth.current!.accessToken
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'refresh-child.ts'), s.url, profileDir], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''; let err = ''
    const ready = new Promise<void>(resolve => child.stdout.on('data', d => { out += String(d); if (out.includes('ready\n')) resolve() }))
    child.stderr.on('data', d => { err += String(d) })
    const exited = new Promise(resolve => child.on('exit', resolve))
    // Both refresh at the same moment: the child once told to go, this process right away.
    await ready
    child.stdin.end('go\n')
    const mine = await a.auth.refresh(rejected)
    expect(await exited).toBe(0)
    const theirs = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { token: string, error: string, events: string[], sessions: number }
    expect(theirs.error, err).toBe('')
    expect(theirs.events).toEqual([])
    expect(theirs.sessions).toBe(1)
    expect(mine).not.toBe(rejected)
    // the one that went second adopted the first one's rotation instead of presenting a spent token
    expect(ev).toEqual([])
    expect((await a.api.listSessions()).sessions).toHaveLength(1)
    const d = await a.openDoc(a.sessionDoc!)
    await d.whenSynced()
    expect(ev).toEqual([])
  }, 40_000)
})
