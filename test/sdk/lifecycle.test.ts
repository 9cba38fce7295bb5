import { afterEach, describe, expect, it } from 'vitest'
import type { ExpiryWarning } from '../../client/index.js'
import { waitFor } from '../helpers/server.js'
import { fixture, identityServer, listDir, newEmail, PASSWORD, watchSessionEvents } from './helpers.js'

// The session lifecycle through the SDK: stated end reasons, wipe on revoke, expiry warnings, activity.
const f = fixture()
afterEach(() => f.cleanup())

describe('sdk session lifecycle', () => {
  it('a revocation with wipe ends an online device with its reason and wipes it', async () => {
    const s = await identityServer(f)
    const email = newEmail('wipe')
    const profileDir = await f.profileDir()
    const phone = await f.signedIn(s, { profileDir, device: { name: 'phone', platform: 'node' } }, email)
    const laptop = await f.client(s, { device: { name: 'laptop', platform: 'node' } })
    await laptop.login(email, PASSWORD)
    const ended: Array<{ reason: string, wipe?: boolean }> = []
    phone.on('sessionEnded', e => ended.push({ reason: e.reason, wipe: e.wipe }))
    let wiped = false
    phone.on('wiped', () => { wiped = true })
    const d = await phone.openDoc(phone.sessionDoc!)
    await d.whenSynced()
    d.doc.getText('t').insert(0, 'private')
    await d.flush()
    expect((await listDir(profileDir)).length).toBeGreaterThan(0)
    const row = (await laptop.api.listSessions()).sessions.find(x => x.deviceName === 'phone')!
    await laptop.revokeSession(row.id, { wipe: true })
    await waitFor(() => wiped, 5000, 'the phone wiped')
    expect(ended).toEqual([{ reason: 'signed_out_elsewhere', wipe: true }])
    expect(await listDir(profileDir)).toEqual([])
  })

  it('an offline device learns of a wipe when it next starts, and the dashboard shows it pending until then', async () => {
    const s = await identityServer(f)
    const email = newEmail('wipe-offline')
    const profileDir = await f.profileDir()
    const tablet = await f.signedIn(s, { profileDir, device: { name: 'tablet', platform: 'node' } }, email)
    const d = await tablet.openDoc(tablet.sessionDoc!)
    await d.whenSynced()
    await tablet.close()
    const laptop = await f.client(s, { device: { name: 'laptop', platform: 'node' } })
    await laptop.login(email, PASSWORD)
    const row = (await laptop.api.listSessions()).sessions.find(x => x.deviceName === 'tablet')!
    await laptop.revokeSession(row.id, { wipe: true })
    expect((await laptop.api.listSessions()).sessions.find(x => x.id === row.id)).toMatchObject({ wipe: 'pending' })

    const again = await f.client(s, { profileDir, device: { name: 'tablet', platform: 'node' } })
    const ev = watchSessionEvents(again)
    let wiped = false
    again.on('wiped', () => { wiped = true })
    await waitFor(() => wiped, 5000, 'the tablet wiped on start')
    expect(ev).toEqual(['ended:signed_out_elsewhere', 'revoked:signed_out_elsewhere'])
    expect(await listDir(profileDir)).toEqual([])
    expect((await laptop.api.listSessions()).sessions.map(x => x.deviceName)).toEqual(['laptop'])
  })

  it('warns before the idle deadline; staySignedIn moves it; an idle session ends with expired_idle', async () => {
    const s = await identityServer(f, { idleTimeoutMs: 4000 })
    const c = await f.signedIn(s, { expiryWarningMs: 3000 })
    const warnings: ExpiryWarning[] = []
    c.on('expiryWarning', w => warnings.push(w))
    const ev = watchSessionEvents(c)
    await waitFor(() => warnings.length === 1, 10_000, 'a warning')
    expect(warnings[0]).toMatchObject({ kind: 'idle' })
    expect(warnings[0]!.inMs).toBeLessThanOrEqual(3000)
    const first = warnings[0]!.expiresAt
    const moved = await c.staySignedIn()
    expect(moved.idleExpiresAt).toBeGreaterThan(first)
    expect(c.sessionDeadlines?.idleExpiresAt).toBe(moved.idleExpiresAt)
    // The next warning is for the moved deadline, once; then the session ends without a socket open.
    await waitFor(() => warnings.length === 2, 10_000, 'a second warning')
    expect(warnings[1]!.expiresAt).toBe(moved.idleExpiresAt)
    await waitFor(() => ev.length > 0, 10_000, 'the session to end')
    expect(ev).toEqual(['ended:expired_idle', 'revoked:expired_idle'])
    expect(warnings).toHaveLength(2)
  })

  it('edits count as activity: an open document being edited moves the idle deadline', async () => {
    const s = await identityServer(f, { idleTimeoutMs: 4000 })
    const c = await f.signedIn(s, { expiryWarningMs: 0 })
    const d = await c.openDoc(c.sessionDoc!)
    await d.whenSynced()
    await waitFor(() => c.sessionDeadlines !== null, 5000, 'deadlines read')
    const before = (await c.api.sessionDeadlines()).idleExpiresAt
    let edits = 0
    await waitFor(async () => {
      d.doc.getText('t').insert(0, String(edits++))
      return (await c.api.sessionDeadlines()).idleExpiresAt > before
    }, 5000, 'an edit to move the idle deadline')
    expect(c.signedIn).toBe(true)
  })

  it('warns of the absolute deadline as such', async () => {
    const s = await identityServer(f, { absoluteLifetimeMs: 3000 })
    const c = await f.signedIn(s, { expiryWarningMs: 2500 })
    const warnings: ExpiryWarning[] = []
    c.on('expiryWarning', w => warnings.push(w))
    const ev = watchSessionEvents(c)
    await waitFor(() => warnings.length === 1, 10_000, 'a warning')
    expect(warnings[0]!.kind).toBe('absolute')
    await waitFor(() => ev.length > 0, 10_000, 'the session to end')
    expect(ev[0]).toBe('ended:expired_absolute')
  })

  it('reportActivity is throttled: many calls, one request', async () => {
    const s = await identityServer(f)
    let reports = 0
    const c = await f.signedIn(s, {
      activityThrottleMs: 60_000,
      fetch: (input, init) => { if (String(input).endsWith('/me/activity')) reports++; return globalThis.fetch(input, init) }
    })
    for (let i = 0; i < 20; i++) await c.reportActivity()
    expect(reports).toBe(1)
    await c.staySignedIn()
    expect(reports).toBe(2)
  })

  it('signOut is logout: reason logout, no revoked event; with wipe nothing of the profile remains', async () => {
    const s = await identityServer(f)
    const profileDir = await f.profileDir()
    const c = await f.signedIn(s, { profileDir })
    const ev = watchSessionEvents(c)
    const d = await c.openDoc(c.sessionDoc!)
    await d.whenSynced()
    await c.signOut({ wipe: true })
    expect(ev).toEqual(['ended:logout'])
    expect(await listDir(profileDir)).toEqual([])
  })
})
