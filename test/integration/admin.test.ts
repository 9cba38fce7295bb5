import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { totpCode } from '../../server/identity/mfa.js'
import { createLogger } from '../../server/observe/logger.js'
import { adminCall, grantAdmin } from '../helpers/admin.js'
import { closeCode, secondDevice, signedInDevice, TestDevice, UpgradeRefused } from '../helpers/identity.js'
import { startServer } from '../helpers/server.js'

type Server = Awaited<ReturnType<typeof startServer>>

describe('admin API', () => {
  let app: Server
  const lines: string[] = []
  const audits = () => lines.map(l => JSON.parse(l)).filter(l => l.kind === 'admin_action')

  beforeAll(async () => {
    const sink = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
    app = await startServer({ insecureNoAuth: false, logLevel: 'info' }, { logger: createLogger('info', sink) })
  })
  afterAll(() => app.close())

  const admin = async () => {
    const a = await signedInDevice(app.url, `admin-${Math.random().toString(36).slice(2, 10)}@example.com`)
    await grantAdmin(app, a.email)
    return a
  }

  it('refuses non-admins (403) and calls without a DPoP proof by the session key (401) on every route', async () => {
    const user = await signedInDevice(app.url)
    const routes: [string, string][] = [
      ['GET', '/admin/users?prefix=a'], ['GET', `/admin/users/${user.tokens.userId}`], ['GET', `/admin/users/${user.tokens.userId}/sessions`],
      ['POST', `/admin/users/${user.tokens.userId}/logout`], ['POST', `/admin/users/${user.tokens.userId}/disable`],
      ['POST', `/admin/users/${user.tokens.userId}/enable`], ['DELETE', `/admin/sessions/${user.tokens.sessionId}`],
      ['GET', '/admin/analytics'], ['GET', '/admin/security-events']
    ]
    for (const [method, path] of routes) {
      const res = await adminCall(user, method, path)
      expect(res.status, `${method} ${path}`).toBe(403)
      expect(res.body.error).toBe('forbidden')
      expect(res.headers.get('cache-control')).toBe('no-store')
    }
    const a = await admin()
    const noProof = await a.api('GET', '/admin/users')
    expect(noProof.status).toBe(401)
    expect(noProof.body.error).toBe('invalid_dpop_proof')
    const other = await TestDevice.create(app.url, a.email)
    const wrongKey = await a.call('GET', '/admin/users', undefined, { authorization: `Bearer ${a.tokens.accessToken}`, dpop: await other.proof('GET', '/admin/users') })
    expect(wrongKey.status).toBe(401)
    // The user is still signed in: nothing was done.
    expect((await user.api('GET', '/me')).status).toBe(200)
    const denied = audits().filter(e => e.userId === user.tokens.userId)
    expect(denied).toHaveLength(routes.length)
    expect(denied.map(e => `${e.reason} ${e.detail.target.split('?')[0]}`)).toEqual(routes.map(([m, p]) => `denied ${m} ${p.split('?')[0]}`))
  })

  it('lists users by email prefix, paged, and a user with their live device sessions', async () => {
    const a = await admin()
    const tag = `p${Math.random().toString(36).slice(2, 8)}`
    const users = []
    for (const x of ['c', 'a', 'b']) users.push(await signedInDevice(app.url, `${tag}-${x}@example.com`, 'laptop'))
    const phone = await secondDevice(users[1]!, 'phone')
    const first = await adminCall(a, 'GET', `/admin/users?prefix=${tag.toUpperCase()}&limit=2`)
    expect(first.status).toBe(200)
    expect(first.body.users.map((u: { email: string }) => u.email)).toEqual([`${tag}-a@example.com`, `${tag}-b@example.com`])
    expect(first.body.next).toBe(`${tag}-b@example.com`)
    expect(first.body.users[0]).toEqual({ id: users[1]!.tokens.userId, email: `${tag}-a@example.com`, createdAt: expect.any(Number), admin: false, mfaEnabled: false })
    const second = await adminCall(a, 'GET', `/admin/users?prefix=${tag}&limit=2&after=${encodeURIComponent(first.body.next)}`)
    expect(second.body).toEqual({ users: [expect.objectContaining({ email: `${tag}-c@example.com` })] })
    expect((await adminCall(a, 'GET', '/admin/users?limit=0')).status).toBe(400)
    expect((await adminCall(a, 'GET', '/admin/users?limit=x')).status).toBe(400)
    expect((await adminCall(a, 'GET', '/admin/users?bogus=1')).status).toBe(400)

    const ws = await phone.socket(phone.tokens.sessionDoc)
    const sessions = await adminCall(a, 'GET', `/admin/users/${users[1]!.tokens.userId}/sessions`)
    expect(sessions.status).toBe(200)
    expect(sessions.body.sessions.map((s: { deviceName: string }) => s.deviceName).sort()).toEqual(['laptop', 'phone'])
    expect(sessions.body.sessions.find((s: { id: string }) => s.id === phone.tokens.sessionId).online).toBe(1)
    ws.close()
    expect((await adminCall(a, 'GET', '/admin/users/nobody/sessions')).status).toBe(404)
    expect((await adminCall(a, 'GET', `/admin/users/${users[0]!.tokens.userId}`)).body.email).toBe(`${tag}-c@example.com`)
    const stored = await adminCall(a, 'GET', `/admin/security-events?userId=${a.tokens.userId}&kind=admin_action`)
    const mine = stored.body.events.map((e: { detail: { action: string, target: string } }) => `${e.detail.action} ${e.detail.target}`)
    expect(mine).toContain(`list_users prefix:${tag.toUpperCase()}`)
    expect(mine).toContain(`list_sessions user:${users[1]!.tokens.userId}`)
  })

  it('force-logs-out a user (every session, sockets closed) or one session', async () => {
    const a = await admin()
    const laptop = await signedInDevice(app.url, undefined, 'laptop')
    const phone = await secondDevice(laptop, 'phone')
    const tablet = await secondDevice(laptop, 'tablet')
    const ws = await tablet.socket(tablet.tokens.sessionDoc)
    const closed = closeCode(ws)
    const one = await adminCall(a, 'DELETE', `/admin/sessions/${tablet.tokens.sessionId}`)
    expect(one.status).toBe(204)
    expect(await closed).toBe(4403)
    expect((await tablet.refresh()).body.error).toBe('session_ended')
    expect((await laptop.api('GET', '/me')).status).toBe(200)
    expect((await adminCall(a, 'DELETE', `/admin/sessions/${tablet.tokens.sessionId}`)).status).toBe(404)

    const ws2 = await phone.socket(phone.tokens.sessionDoc)
    const closed2 = closeCode(ws2)
    const all = await adminCall(a, 'POST', `/admin/users/${laptop.tokens.userId}/logout`)
    expect(all.body).toEqual({ ended: 2 })
    expect(await closed2).toBe(4403)
    for (const d of [laptop, phone]) expect((await d.api('GET', '/me')).body.error).toBe('session_ended')
    expect((await laptop.login()).status).toBe(200)
    const reasons = audits().filter(e => e.userId === a.tokens.userId).map(e => `${e.detail.action} ${e.detail.target}`)
    expect(reasons).toEqual([`end_session session:${tablet.tokens.sessionId}`, `end_session session:${tablet.tokens.sessionId}`, `force_logout user:${laptop.tokens.userId}`])
    const revoked = lines.map(l => JSON.parse(l)).filter(l => l.msg === 'closed sockets of ended session' && l.reason === 'admin')
    expect(revoked.length).toBeGreaterThanOrEqual(2)
  })

  it('disables an account: sessions end, sign-in, refresh and sockets are refused with account_disabled; enable restores sign-in', async () => {
    const a = await admin()
    const user = await signedInDevice(app.url)
    const phone = await secondDevice(user, 'phone')
    const ws = await user.socket(user.tokens.sessionDoc)
    const closed = closeCode(ws)
    const res = await adminCall(a, 'POST', `/admin/users/${user.tokens.userId}/disable`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ id: user.tokens.userId, disabledAt: expect.any(Number) })
    expect(await closed).toBe(4403)
    const login = await user.login()
    expect(login.status).toBe(403)
    expect(login.body.error).toBe('account_disabled')
    expect((await phone.refresh()).body.error).toBe('session_ended')
    // A session that outlived the disable (written before it) is refused by the account check too.
    const again = await adminCall(a, 'POST', `/admin/users/${user.tokens.userId}/disable`)
    expect(again.body.disabledAt).toBe(res.body.disabledAt)
    expect((await adminCall(a, 'POST', `/admin/users/${a.tokens.userId}/disable`)).status).toBe(409)

    const enabled = await adminCall(a, 'POST', `/admin/users/${user.tokens.userId}/enable`)
    expect(enabled.body.disabledAt).toBeUndefined()
    expect((await user.login()).status).toBe(200)
    // Disabled again while signed in: the live token and a new socket are refused with the code.
    await adminCall(a, 'POST', `/admin/users/${user.tokens.userId}/disable`)
    expect((await user.api('GET', '/me')).body.error).toMatch(/^(session_ended|account_disabled)$/)
    await expect(user.socket(user.tokens.sessionDoc)).rejects.toBeInstanceOf(UpgradeRefused)
  })

  it('with MFA on, ending sessions and disabling need a recent step-up', async () => {
    const a = await admin()
    const user = await signedInDevice(app.url)
    const enroll = await a.api('POST', '/auth/mfa/enroll')
    const confirm = await a.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) })
    expect(confirm.status).toBe(200)
    // The token from before MFA carries no second factor.
    expect((await adminCall(a, 'GET', '/admin/users?prefix=x')).status).toBe(200)
    for (const [method, path] of [['POST', `/admin/users/${user.tokens.userId}/logout`], ['POST', `/admin/users/${user.tokens.userId}/disable`], ['DELETE', `/admin/sessions/${user.tokens.sessionId}`]] as const) {
      const res = await adminCall(a, method, path)
      expect(res.status, path).toBe(403)
      expect(res.body.error).toBe('step_up_required')
    }
    expect((await user.api('GET', '/me')).status).toBe(200)
    const up = await a.api('POST', '/auth/step-up', { code: confirm.body.recoveryCodes[0] })
    expect(up.status).toBe(200)
    const res = await adminCall(a, 'POST', `/admin/users/${user.tokens.userId}/logout`, undefined, up.body.accessToken)
    expect(res.body).toEqual({ ended: 1 })
  })

  it('queries stored security events by user, kind and time range, newest first, paged', async () => {
    const a = await admin()
    const t0 = Date.now()
    const user = await signedInDevice(app.url)
    await user.login('wrong password')
    await user.api('POST', '/auth/logout')
    const all = await adminCall(a, 'GET', `/admin/security-events?userId=${user.tokens.userId}`)
    expect(all.status).toBe(200)
    expect(all.body.events.map((e: { kind: string }) => e.kind)).toEqual(['logout', 'login_failed', 'new_device', 'login_ok', 'register'])
    expect(all.body.events[0]).toMatchObject({ userId: user.tokens.userId, sessionId: user.tokens.sessionId, ip: '127.0.0.1', at: expect.any(Number), id: expect.any(String) })
    const kinds = await adminCall(a, 'GET', `/admin/security-events?userId=${user.tokens.userId}&kind=login_failed,logout`)
    expect(kinds.body.events.map((e: { kind: string }) => e.kind)).toEqual(['logout', 'login_failed'])
    const page1 = await adminCall(a, 'GET', `/admin/security-events?userId=${user.tokens.userId}&limit=2`)
    expect(page1.body.events).toEqual(all.body.events.slice(0, 2))
    const page2 = await adminCall(a, 'GET', `/admin/security-events?userId=${user.tokens.userId}&limit=2&before=${page1.body.next}`)
    expect(page2.body.events).toEqual(all.body.events.slice(2, 4))
    const until = all.body.events[1].at
    const ranged = await adminCall(a, 'GET', `/admin/security-events?userId=${user.tokens.userId}&since=${t0}&until=${until}`)
    expect(ranged.body.events.every((e: { at: number }) => e.at >= t0 && e.at < until)).toBe(true)
    expect(ranged.body.events.length).toBeGreaterThanOrEqual(2)
    expect((await adminCall(a, 'GET', '/admin/security-events?since=yesterday')).status).toBe(400)
    expect((await adminCall(a, 'GET', '/admin/security-events?limit=501')).status).toBe(400)
    // The queries themselves are audited.
    const audit = await adminCall(a, 'GET', `/admin/security-events?userId=${a.tokens.userId}&kind=admin_action&limit=1`)
    expect(audit.body.events[0].detail).toEqual({ action: 'query_events', target: `user:${a.tokens.userId}` })
  })

  it('never writes tokens or proofs into the audit trail', async () => {
    const a = await admin()
    await adminCall(a, 'GET', '/admin/users?prefix=zz')
    const log = lines.join('')
    expect(log).not.toContain(a.tokens.accessToken)
    expect(log).not.toContain(a.tokens.refreshToken)
  })
})
