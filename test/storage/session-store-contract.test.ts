import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { securityEventTimeKey, type ApiKeyRecord, type DeviceGrantRecord, type DocRecord, type PasskeyRecord, type SecurityEventRecord, type SessionRecord, type UserRecord } from '../../server/storage/session-store.js'
import { securityEventId } from '../../server/identity/security-events.js'
import { levelBackend, postgresBackend, type Backend, type Stores } from './backends.js'

// The same cases against every SessionStore implementation.
const backends: Backend[] = [levelBackend(), postgresBackend()]

const id = () => randomUUID()
const user = (over: Partial<UserRecord> = {}): UserRecord => ({
  id: id(), email: `u-${randomUUID().slice(0, 8)}@example.com`, passwordHash: '$argon2id$stub', createdAt: 1_700_000_000_000, ...over
})
const session = (userId: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
  id: id(), userId, deviceName: 'laptop', platform: 'node', userAgent: 'test', createdAt: 1, lastSeenAt: 2, lastIp: '127.0.0.1',
  jkt: 'thumbprint', amr: ['pwd'], refreshHash: randomUUID(), idleTimeoutMs: 1000, absoluteExpiresAt: 3, ...over
})
const doc = (ownerId: string, members: DocRecord['members'] = {}): DocRecord => ({
  id: id(), title: 'Plan', ownerId, createdAt: 1, updatedAt: 2, members
})
const grant = (over: Partial<DeviceGrantRecord> = {}): DeviceGrantRecord => ({
  id: id(), userCode: randomUUID().replace(/-/g, '').slice(0, 8).toUpperCase(), deviceName: 'TV', platform: 'tv', ip: '10.0.0.7',
  userAgent: 'tv', jkt: 'thumbprint', createdAt: 1, expiresAt: 1_000, status: 'pending', entries: 0, ...over
})
const passkey = (userId: string, over: Partial<PasskeyRecord> = {}): PasskeyRecord => ({
  id: randomUUID(), userId, publicKey: 'pQECAyYgASFY', counter: 0, transports: ['internal'], name: 'Laptop',
  deviceType: 'multiDevice', backedUp: true, aaguid: '00000000-0000-0000-0000-000000000000', createdAt: 1, ...over
})
const byId = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1))

describe.each(backends)('SessionStore contract: $name', backend => {
  const open: Stores[] = []
  afterEach(async () => { for (const s of open.splice(0)) await s.close().catch(() => {}) })
  const start = async (place?: string) => {
    const where = place ?? await backend.place()
    const stores = await backend.open(where)
    open.push(stores)
    return { ...stores, place: where }
  }
  const restart = async (s: Stores & { place: string }) => {
    open.splice(open.indexOf(s), 1)
    await s.close()
    return start(s.place)
  }

  it('createUser refuses a second account on the same email; records read back whole', async () => {
    const s = await start()
    const first = user({ mfaSecret: 'JBSWY3DPEHPK3PXP', recoveryHashes: ['h1', 'h2'], lastTotpStep: 42 })
    expect(await s.sessions.createUser(first)).toBe(true)
    expect(await s.sessions.createUser({ ...user(), email: first.email })).toBe(false)
    expect(await s.sessions.createUser(first)).toBe(false)
    expect(await s.sessions.userById(first.id)).toEqual(first)
    expect(await s.sessions.userByEmail(first.email)).toEqual(first)
    expect(await s.sessions.userByEmail(`other-${first.email}`)).toBeUndefined()
    expect(await s.sessions.userById(id())).toBeUndefined()
  })

  it('of concurrent registrations on one email exactly one wins', async () => {
    const s = await start()
    const email = `race-${randomUUID().slice(0, 8)}@example.com`
    const contenders = Array.from({ length: 8 }, () => user({ email }))
    const results = await Promise.all(contenders.map(u => s.sessions.createUser(u)))
    expect(results.filter(Boolean)).toHaveLength(1)
    const winner = contenders[results.indexOf(true)]!
    expect((await s.sessions.userByEmail(email))?.id).toBe(winner.id)
  })

  it('putUser replaces the record', async () => {
    const s = await start()
    const u = user()
    await s.sessions.createUser(u)
    const changed = { ...u, mfaPendingSecret: 'PENDING', passwordHash: '$argon2id$new' }
    await s.sessions.putUser(changed)
    expect(await s.sessions.userById(u.id)).toEqual(changed)
    expect(await s.sessions.userByEmail(u.email)).toEqual(changed)
  })

  it('sessionsOfUser lists the sessions that have not ended; ended ones stay readable by id', async () => {
    const s = await start()
    const u = user()
    const other = user()
    const a = session(u.id)
    const b = session(u.id, { mfaAt: 5, amr: ['pwd', 'otp'] })
    const ended = session(u.id)
    await s.sessions.putSession(a)
    await s.sessions.putSession(b)
    await s.sessions.putSession(ended)
    await s.sessions.putSession(session(other.id))
    const endedNow = { ...ended, endedAt: 10, endReason: 'logout' }
    await s.sessions.putSession(endedNow)
    expect(byId(await s.sessions.sessionsOfUser(u.id))).toEqual(byId([a, b]))
    expect(await s.sessions.sessionById(ended.id)).toEqual(endedNow)
    const touched = { ...a, lastSeenAt: 99, prevRefreshHash: 'old', prevRotatedAt: 98, prevSealedSuccessor: 'sealed' }
    await s.sessions.putSession(touched)
    expect(await s.sessions.sessionById(a.id)).toEqual(touched)
    expect(await s.sessions.sessionsOfUser(id())).toEqual([])
  })

  it('updateSession applies concurrent changes one after another, each to the record as stored', async () => {
    const s = await start()
    const u = user()
    const x = session(u.id, { lastSeenAt: 0 })
    await s.sessions.putSession(x)
    // Twenty read-modify-writes at once: none may be lost to another that read the same record.
    await Promise.all(Array.from({ length: 20 }, () => s.sessions.updateSession(x.id, cur => { cur.lastSeenAt += 1; return true })))
    expect((await s.sessions.sessionById(x.id))!.lastSeenAt).toBe(20)
    // false leaves the record as stored and resolves with it.
    const seen = await s.sessions.updateSession(x.id, cur => { cur.lastIp = '10.9.9.9'; return false })
    expect(seen!.lastSeenAt).toBe(20)
    expect((await s.sessions.sessionById(x.id))!.lastIp).toBe('127.0.0.1')
    // Ending a session through an update takes it out of sessionsOfUser.
    const ended = await s.sessions.updateSession(x.id, cur => { cur.endedAt = 5; cur.endReason = 'logout'; return true })
    expect(ended).toMatchObject({ endedAt: 5, endReason: 'logout' })
    expect(await s.sessions.sessionsOfUser(u.id)).toEqual([])
    let called = false
    expect(await s.sessions.updateSession(id(), () => { called = true; return true })).toBeUndefined()
    expect(await s.sessions.updateSession('a\u0000b', () => { called = true; return true })).toBeUndefined()
    expect(called).toBe(false)
  })

  it('an ended session with a pending wipe stays listed until the wipe is delivered', async () => {
    const s = await start()
    const u = user()
    const live = session(u.id)
    const wiped = session(u.id, { endedAt: 10, endReason: 'signed_out_elsewhere', wipe: true })
    await s.sessions.putSession(live)
    await s.sessions.putSession(wiped)
    expect(byId(await s.sessions.sessionsOfUser(u.id))).toEqual(byId([live, wiped]))
    await s.sessions.putSession({ ...wiped, wipeDeliveredAt: 11 })
    expect(await s.sessions.sessionsOfUser(u.id)).toEqual([live])
  })

  it('sessionsSeenBefore pages through sessions last seen before a time that still hold an address', async () => {
    const s = await start()
    const u = user()
    const old = session(u.id, { lastSeenAt: 100, deviceName: 'nul\u0000name' })
    const oldEnded = session(u.id, { lastSeenAt: 150, endedAt: 160 })
    const scrubbed = session(u.id, { lastSeenAt: 100, lastIp: '' })
    const recent = session(u.id, { lastSeenAt: 10_000 })
    for (const x of [old, oldEnded, scrubbed, recent]) await s.sessions.putSession(x)
    const found = await s.sessions.sessionsSeenBefore(1000, 100)
    const mine = found.filter(x => x.userId === u.id)
    expect(byId(mine)).toEqual(byId([old, oldEnded]))
    expect(await s.sessions.sessionsSeenBefore(1000, 1)).toHaveLength(1)
    expect(await s.sessions.sessionsSeenBefore(1000, 0)).toEqual([])
  })

  it('deleteAccount leaves nothing of the account and nothing of others behind', async () => {
    const s = await start()
    const u = user()
    const other = user()
    await s.sessions.createUser(u)
    await s.sessions.createUser(other)
    const live = session(u.id)
    const ended = session(u.id, { endedAt: 5 })
    const keep = session(other.id)
    for (const x of [live, ended, keep]) await s.sessions.putSession(x)
    await s.sessions.indexRefreshHash('h-live', live.id)
    await s.sessions.indexRefreshHash('h-ended', ended.id)
    await s.sessions.indexRefreshHash('h-keep', keep.id)
    await s.sessions.createPasskey(passkey(u.id))
    const theirKey = passkey(other.id)
    await s.sessions.createPasskey(theirKey)
    const g = grant({ status: 'approved', userId: u.id, decidedBy: live.id, deviceName: 'nul\u0000TV' })
    const theirs = grant({ status: 'approved', userId: other.id })
    await s.sessions.putDeviceGrant(g)
    await s.sessions.putDeviceGrant(theirs)
    const owned = doc(u.id, { [other.id]: 'editor' })
    const shared = doc(other.id, { [u.id]: 'viewer' })
    await s.sessions.putDoc(owned)
    await s.sessions.putDoc(shared)
    const event = (userId: string, n: number) => ({ id: `${securityEventTimeKey(n)}-${randomUUID()}`, at: n, kind: 'login_ok', userId, ip: '10.0.0.1' })
    await s.sessions.addSecurityEvent(event(u.id, 1))
    await s.sessions.addSecurityEvent(event(u.id, 2))
    const theirEvent = event(other.id, 3)
    await s.sessions.addSecurityEvent(theirEvent)

    await s.sessions.deleteAccount(u.id)
    expect(await s.sessions.securityEvents({ userId: u.id, limit: 10 })).toEqual([])
    expect(await s.sessions.securityEvents({ userId: other.id, limit: 10 })).toEqual([theirEvent])
    expect(await s.sessions.userById(u.id)).toBeUndefined()
    expect(await s.sessions.userByEmail(u.email)).toBeUndefined()
    expect(await s.sessions.sessionById(live.id)).toBeUndefined()
    expect(await s.sessions.sessionById(ended.id)).toBeUndefined()
    expect(await s.sessions.sessionsOfUser(u.id)).toEqual([])
    expect(await s.sessions.sessionIdByRefreshHash('h-live')).toBeUndefined()
    expect(await s.sessions.sessionIdByRefreshHash('h-ended')).toBeUndefined()
    expect(await s.sessions.passkeysOfUser(u.id)).toEqual([])
    expect(await s.sessions.deviceGrantById(g.id)).toBeUndefined()
    expect(await s.sessions.deviceGrantByUserCode(g.userCode)).toBeUndefined()
    expect(await s.sessions.docById(owned.id)).toBeUndefined()
    expect(await s.sessions.docsOfUser(u.id)).toEqual([])
    // The other account keeps everything, minus the deleted member and the deleted draft.
    expect(await s.sessions.userById(other.id)).toEqual(other)
    expect(await s.sessions.sessionById(keep.id)).toEqual(keep)
    expect(await s.sessions.sessionIdByRefreshHash('h-keep')).toBe(keep.id)
    expect(await s.sessions.passkeysOfUser(other.id)).toEqual([theirKey])
    expect(await s.sessions.deviceGrantById(theirs.id)).toEqual(theirs)
    expect(await s.sessions.docsOfUser(other.id)).toEqual([{ ...shared, members: {} }])
    await s.sessions.deleteAccount(u.id) // nothing left: no error
  })

  it('the refresh-hash index maps every hash issued to its session', async () => {
    const s = await start()
    const sid = id()
    const [h1, h2] = [randomUUID(), randomUUID()]
    await s.sessions.indexRefreshHash(h1, sid)
    await s.sessions.indexRefreshHash(h2, sid)
    expect(await s.sessions.sessionIdByRefreshHash(h1)).toBe(sid)
    expect(await s.sessions.sessionIdByRefreshHash(h2)).toBe(sid)
    expect(await s.sessions.sessionIdByRefreshHash(randomUUID())).toBeUndefined()
  })

  it('docsOfUser follows owner and members as they change; deleteDoc removes it for all', async () => {
    const s = await start()
    const [owner, editor, viewer, later] = [id(), id(), id(), id()]
    const plan = doc(owner, { [editor]: 'editor', [viewer]: 'viewer' })
    const notes = doc(owner)
    await s.sessions.putDoc(plan)
    await s.sessions.putDoc(notes)
    expect(byId(await s.sessions.docsOfUser(owner))).toEqual(byId([plan, notes]))
    expect(await s.sessions.docsOfUser(editor)).toEqual([plan])
    expect(await s.sessions.docsOfUser(viewer)).toEqual([plan])
    expect(await s.sessions.docsOfUser(later)).toEqual([])
    const changed = { ...plan, title: 'Renamed', updatedAt: 3, members: { [editor]: 'viewer' as const, [later]: 'editor' as const } }
    await s.sessions.putDoc(changed)
    expect(await s.sessions.docById(plan.id)).toEqual(changed)
    expect(await s.sessions.docsOfUser(viewer)).toEqual([])
    expect(await s.sessions.docsOfUser(editor)).toEqual([changed])
    expect(await s.sessions.docsOfUser(later)).toEqual([changed])
    await s.sessions.deleteDoc(changed)
    expect(await s.sessions.docById(plan.id)).toBeUndefined()
    for (const u of [editor, later]) expect(await s.sessions.docsOfUser(u)).toEqual([])
    expect(await s.sessions.docsOfUser(owner)).toEqual([notes])
  })

  it('device grants: found by id and by user code, replaced, listed by expiry, deleted', async () => {
    const s = await start()
    const early = grant({ expiresAt: 100 })
    const late = grant({ expiresAt: 200 })
    const later = grant({ expiresAt: 300 })
    for (const g of [later, early, late]) await s.sessions.putDeviceGrant(g)
    expect(await s.sessions.deviceGrantById(early.id)).toEqual(early)
    expect(await s.sessions.deviceGrantByUserCode(late.userCode)).toEqual(late)
    expect(await s.sessions.deviceGrantByUserCode('NOSUCHCD')).toBeUndefined()
    const decided = { ...early, status: 'approved' as const, userId: id(), decidedBy: id(), decidedAt: 50, entries: 2 }
    await s.sessions.putDeviceGrant(decided)
    expect(await s.sessions.deviceGrantByUserCode(early.userCode)).toEqual(decided)
    expect((await s.sessions.deviceGrantsExpiredBefore(250, 10)).map(g => g.id)).toEqual([early.id, late.id])
    expect((await s.sessions.deviceGrantsExpiredBefore(250, 1)).map(g => g.id)).toEqual([early.id])
    expect(await s.sessions.deviceGrantsExpiredBefore(100, 10)).toEqual([])
    await s.sessions.deleteDeviceGrant(decided)
    expect(await s.sessions.deviceGrantById(early.id)).toBeUndefined()
    expect(await s.sessions.deviceGrantByUserCode(early.userCode)).toBeUndefined()
    expect((await s.sessions.deviceGrantsExpiredBefore(1_000, 10)).map(g => g.id)).toEqual([late.id, later.id])
    for (const g of [late, later]) await s.sessions.deleteDeviceGrant(g)
  })

  it('updateDeviceGrant applies concurrent changes one after another; of concurrent deletes one removes the grant', async () => {
    const s = await start()
    const g = grant()
    await s.sessions.putDeviceGrant(g)
    // Twenty read-modify-writes at once: none may be lost to another that read the same record.
    await Promise.all(Array.from({ length: 20 }, () => s.sessions.updateDeviceGrant(g.id, cur => { cur.entries++; return true })))
    expect((await s.sessions.deviceGrantById(g.id))!.entries).toBe(20)
    const seen = await s.sessions.updateDeviceGrant(g.id, cur => { cur.status = 'denied'; return false })
    expect(seen!.entries).toBe(20)
    expect(await s.sessions.deviceGrantByUserCode(g.userCode)).toMatchObject({ status: 'pending', entries: 20 })
    const paced = await s.sessions.updateDeviceGrant(g.id, cur => { cur.lastPollAt = 500; cur.pollIntervalS = 10; return true })
    expect(paced).toMatchObject({ lastPollAt: 500, pollIntervalS: 10 })
    expect(await s.sessions.deviceGrantById(g.id)).toEqual({ ...g, entries: 20, lastPollAt: 500, pollIntervalS: 10 })
    let called = false
    expect(await s.sessions.updateDeviceGrant(id(), () => { called = true; return true })).toBeUndefined()
    expect(await s.sessions.updateDeviceGrant('a\u0000b', () => { called = true; return true })).toBeUndefined()
    expect(called).toBe(false)

    const deleted = await Promise.all([s.sessions.deleteDeviceGrant(g), s.sessions.deleteDeviceGrant(g)])
    expect(deleted.sort()).toEqual([false, true])
    expect(await s.sessions.deviceGrantById(g.id)).toBeUndefined()
    expect(await s.sessions.deleteDeviceGrant(g)).toBe(false)
  })

  it('passkeys: a credential ID registers once, across accounts; replaced, listed per account, deleted', async () => {
    const s = await start()
    const alice = id()
    const bob = id()
    const first = passkey(alice)
    const second = passkey(alice, { name: 'Phone', deviceType: 'singleDevice', backedUp: false, transports: undefined })
    expect(await s.sessions.createPasskey(first)).toBe(true)
    expect(await s.sessions.createPasskey(second)).toBe(true)
    expect(await s.sessions.createPasskey({ ...first, userId: bob })).toBe(false)
    expect(await s.sessions.passkeyById(first.id)).toEqual(first)
    expect(byId(await s.sessions.passkeysOfUser(alice))).toEqual(byId([first, second]))
    expect(await s.sessions.passkeysOfUser(bob)).toEqual([])
    const used = { ...first, counter: 7, lastUsedAt: 9, name: 'Old laptop' }
    await s.sessions.putPasskey(used)
    expect(await s.sessions.passkeyById(first.id)).toEqual(used)
    await s.sessions.deletePasskey(used)
    expect(await s.sessions.passkeyById(first.id)).toBeUndefined()
    expect(await s.sessions.passkeysOfUser(alice)).toEqual([second])
  })

  it('of concurrent registrations of one credential exactly one wins', async () => {
    const s = await start()
    const credentialId = randomUUID()
    const results = await Promise.all(Array.from({ length: 6 }, () => s.sessions.createPasskey(passkey(id(), { id: credentialId }))))
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  it('any string a client sends survives the round trip, U+0000 included', async () => {
    const s = await start()
    const u = user()
    const odd = session(u.id, { deviceName: 'nul\u0000name', userAgent: 'emoji 🚀 and \\ "quotes"' })
    await s.sessions.putSession(odd)
    expect(await s.sessions.sessionById(odd.id)).toEqual(odd)
    const d = { ...doc(u.id), title: 'tab\tnul\u0000' }
    await s.sessions.putDoc(d)
    expect(await s.sessions.docById(d.id)).toEqual(d)
  })

  it('a lookup by a key with U+0000 finds nothing', async () => {
    const s = await start()
    const nul = 'nul\u0000key@example.com'
    expect(await s.sessions.userByEmail(nul)).toBeUndefined()
    expect(await s.sessions.userById(nul)).toBeUndefined()
    expect(await s.sessions.sessionById(nul)).toBeUndefined()
    expect(await s.sessions.sessionsOfUser(nul)).toEqual([])
    expect(await s.sessions.sessionIdByRefreshHash(nul)).toBeUndefined()
    expect(await s.sessions.docById(nul)).toBeUndefined()
    expect(await s.sessions.docsOfUser(nul)).toEqual([])
    expect(await s.sessions.deviceGrantById(nul)).toBeUndefined()
    expect(await s.sessions.deviceGrantByUserCode(nul)).toBeUndefined()
    expect(await s.sessions.passkeyById(nul)).toBeUndefined()
    expect(await s.sessions.passkeysOfUser(nul)).toEqual([])
  })

  it('API keys: put, read by id, replace (revoke), list in id order; kept across a restart', async () => {
    let s = await start()
    const key = (over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({ id: `k${randomUUID().replace(/-/g, '')}`, secretHash: 'h', scopes: ['docs:read'], name: 'backend', createdAt: 1, ...over })
    const a = key({ scopes: ['docs:read', 'docs:write'] })
    const b = key()
    await s.sessions.putApiKey(a)
    await s.sessions.putApiKey(b)
    expect(await s.sessions.apiKeyById(a.id)).toEqual(a)
    expect(await s.sessions.apiKeyById('kmissing')).toBeUndefined()
    expect(await s.sessions.apiKeyById('k\u0000x')).toBeUndefined()
    const revoked = { ...b, revokedAt: 5, name: 'renamed' }
    await s.sessions.putApiKey(revoked)
    s = await restart(s)
    expect(await s.sessions.apiKeyById(b.id)).toEqual(revoked)
    const mine = (await s.sessions.apiKeys()).filter(k => k.id === a.id || k.id === b.id)
    expect(mine).toEqual(byId([a, revoked]))
  })

  it('everything is still there after a restart', async () => {
    let s = await start()
    const u = user()
    const sess = session(u.id)
    const d = doc(u.id)
    await s.sessions.createUser(u)
    await s.sessions.putSession(sess)
    await s.sessions.indexRefreshHash(sess.refreshHash, sess.id)
    await s.sessions.putDoc(d)
    const g = grant()
    const p = passkey(u.id)
    await s.sessions.putDeviceGrant(g)
    await s.sessions.createPasskey(p)
    s = await restart(s)
    expect(await s.sessions.deviceGrantByUserCode(g.userCode)).toEqual(g)
    expect(await s.sessions.passkeysOfUser(u.id)).toEqual([p])
    expect(await s.sessions.userByEmail(u.email)).toEqual(u)
    expect(await s.sessions.sessionsOfUser(u.id)).toEqual([sess])
    expect(await s.sessions.sessionIdByRefreshHash(sess.refreshHash)).toBe(sess.id)
    expect(await s.sessions.docsOfUser(u.id)).toEqual([d])
    expect(await s.sessions.createUser({ ...user(), email: u.email })).toBe(false)
  })

  it('security events: newest first, by user, kind, time range and cursor; retention deletes the oldest', async () => {
    const s = await start()
    // A time far from other tests' events: the PostgreSQL database is shared by this file's tests.
    const t0 = 4_000_000_000_000 + Math.floor(Math.random() * 1e9)
    const alice = id()
    const bob = id()
    const ev = (i: number, over: Partial<SecurityEventRecord>): SecurityEventRecord =>
      ({ id: securityEventId(t0 + i * 1000), at: t0 + i * 1000, kind: 'login_ok', ...over })
    const events = [
      ev(0, { userId: alice, ip: '10.0.0.1', reason: 'pwd' }),
      ev(1, { userId: bob, kind: 'login_failed' }),
      ev(2, { userId: alice, kind: 'refresh_reuse', sessionId: 's1', score: 90, detail: { prefix: '10.0.0.0/24', far: true } }),
      ev(3, { kind: 'rate_limited', ip: '10.9.9.9' }),
      ev(4, { userId: alice, kind: 'logout', userAgent: 'Firefox' })
    ]
    for (const e of [...events].reverse()) await s.sessions.addSecurityEvent(e)
    const inRange = { since: t0, until: t0 + 10_000 }
    expect(await s.sessions.securityEvents({ ...inRange, limit: 10 })).toEqual([...events].reverse())
    expect(await s.sessions.securityEvents({ ...inRange, userId: alice, limit: 10 })).toEqual([events[4], events[2], events[0]])
    expect(await s.sessions.securityEvents({ ...inRange, kinds: ['login_failed', 'rate_limited'], limit: 10 })).toEqual([events[3], events[1]])
    expect(await s.sessions.securityEvents({ ...inRange, userId: alice, kinds: ['login_ok'], limit: 10 })).toEqual([events[0]])
    expect(await s.sessions.securityEvents({ since: t0 + 1000, until: t0 + 3000, limit: 10 })).toEqual([events[2], events[1]])
    const page1 = await s.sessions.securityEvents({ ...inRange, limit: 2 })
    expect(page1).toEqual([events[4], events[3]])
    expect(await s.sessions.securityEvents({ ...inRange, before: page1[1]!.id, limit: 2 })).toEqual([events[2], events[1]])
    expect(await s.sessions.securityEvents({ ...inRange, userId: alice, before: events[2]!.id, limit: 5 })).toEqual([events[0]])
    expect(await s.sessions.securityEvents({ ...inRange, limit: 0 })).toEqual([])
    expect(await s.sessions.securityEvents({ ...inRange, userId: 'nobody\u0000', limit: 5 })).toEqual([])

    // Retention: everything before t0 + 2 s, in bounded steps, index entries included.
    const before = (await s.sessions.securityEvents({ until: t0 + 2000, limit: 1000 })).length
    let deleted = 0
    for (let round = 0; round < 100; round++) {
      const n = await s.sessions.deleteSecurityEventsBefore(t0 + 2000, 1)
      if (n === 0) break
      expect(n).toBe(1)
      deleted += n
    }
    expect(deleted).toBe(before)
    expect(await s.sessions.securityEvents({ ...inRange, limit: 10 })).toEqual([events[4], events[3], events[2]])
    expect(await s.sessions.securityEvents({ ...inRange, userId: bob, limit: 10 })).toEqual([])
    const restarted = await restart(s)
    expect(await restarted.sessions.securityEvents({ ...inRange, userId: alice, limit: 10 })).toEqual([events[4], events[2]])
  })

  it('usersByEmailPrefix pages through one prefix in email order', async () => {
    const s = await start()
    const tag = randomUUID().slice(0, 8)
    const users = ['c', 'a', 'b', 'd'].map(x => user({ email: `${tag}-${x}@example.com` }))
    for (const u of users) await s.sessions.createUser(u)
    await s.sessions.createUser(user({ email: `z${tag}-a@example.com` }))
    const sorted = [...users].sort((x, y) => (x.email < y.email ? -1 : 1))
    const first = await s.sessions.usersByEmailPrefix(tag, undefined, 3)
    expect(first).toEqual(sorted.slice(0, 3))
    expect(await s.sessions.usersByEmailPrefix(tag, first[2]!.email, 3)).toEqual(sorted.slice(3))
    expect(await s.sessions.usersByEmailPrefix(`${tag}-b`, undefined, 10)).toEqual([sorted[1]])
    expect(await s.sessions.usersByEmailPrefix(`${tag}-x`, undefined, 10)).toEqual([])
    expect(await s.sessions.usersByEmailPrefix(`${tag}\u0000`, undefined, 10)).toEqual([])
  })

  it('daily counts add up, also when added concurrently; values replace; days come back in order', async () => {
    let s = await start()
    const day = 100_000 + Math.floor(Math.random() * 1_000_000)
    await Promise.all(Array.from({ length: 20 }, () => s.sessions.addDailyCounts(day, { started: 1, edits: 3 })))
    await s.sessions.addDailyCounts(day + 2, { started: 5 })
    await s.sessions.setDailyValues(day, { active: 7 })
    await s.sessions.setDailyValues(day, { active: 4 })
    s = await restart(s)
    expect(await s.sessions.dailyFigures(day, day + 3)).toEqual([
      { day, values: { active: 4, edits: 60, started: 20 } },
      { day: day + 2, values: { started: 5 } }
    ])
    expect(await s.sessions.dailyFigures(day + 1, day + 2)).toEqual([])
    expect(await s.sessions.dailyFigures(day + 2, day + 2)).toEqual([])
  })

  it('activity is replaced by id, found by overlap with a time range, and deleted once ended before a time', async () => {
    let s = await start()
    const base = 4_000_000_000_000 + Math.floor(Math.random() * 1e9) * 1000
    const a = { id: id(), userId: 'u1', sessionId: 's1', start: base, end: base + 100, edits: 1 }
    const b = { id: id(), userId: 'u1', sessionId: 's2', start: base + 50, end: base + 60, edits: 0 }
    const c = { id: id(), userId: 'u2', sessionId: 's3', start: base + 200, end: base + 300, edits: 9 }
    await s.sessions.putActivities([c, a])
    await s.sessions.putActivities([b])
    await s.sessions.putActivities([])
    const a2 = { ...a, end: base + 150, edits: 5 }
    await s.sessions.putActivities([a2])
    s = await restart(s)
    expect(await s.sessions.activityBetween(base, base + 1000, 10)).toEqual([a2, b, c])
    expect(await s.sessions.activityBetween(base + 120, base + 200, 10)).toEqual([a2])
    expect(await s.sessions.activityBetween(base + 61, base + 1000, 1)).toEqual([a2])
    expect(await s.sessions.deleteActivityBefore(base + 155, 10)).toBe(2)
    expect(await s.sessions.activityBetween(base, base + 1000, 10)).toEqual([c])
    expect(await s.sessions.deleteActivityBefore(base + 155, 10)).toBe(0)
  })
})
