import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CloseCode, parseSessionEndedCloseReason } from '../../shared/protocol.js'
import { EXPIRY_PRESETS } from '../../server/identity/expiry-policy.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer, tempDir, waitFor } from '../helpers/server.js'
import { startIdentityServer, signedInDevice, secondDevice, PASSWORD, type TestDevice } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>
const raw = (app: Server, doc: string, token: string) => new RawClient(`${app.wsUrl}/${doc}?token=${encodeURIComponent(token)}`)
const ended = (c: RawClient) => parseSessionEndedCloseReason(c.closeReason)
const deadlines = async (d: TestDevice) => {
  const r = await d.api('GET', '/me/session')
  expect(r.status).toBe(200)
  return r.body as { idleExpiresAt: number, absoluteExpiresAt: number, lastActiveAt: number, idleTimeoutMs: number }
}
/** Lets real time pass: the subject of expiry tests (an idle deadline counts from a time). */
const pass = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

describe('sign-out reasons: close 4403 reason and the session_ended error say why', () => {
  let app: Server
  beforeAll(async () => { app = await startIdentityServer() })
  afterAll(() => app.close())

  it('remote revocation: signed_out_elsewhere on the socket, on refresh and on the API', async () => {
    const d = await signedInDevice(app.url)
    const other = await secondDevice(d)
    const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await ws.opened
    expect((await other.api('DELETE', `/sessions/${d.tokens.sessionId}`)).status).toBe(204)
    expect(await ws.closed).toBe(CloseCode.sessionEnded)
    expect(ended(ws)).toEqual({ reason: 'signed_out_elsewhere', wipe: false })
    const api = await d.api('GET', '/me')
    expect(api.status).toBe(401)
    expect(api.body).toMatchObject({ error: 'session_ended', reason: 'signed_out_elsewhere' })
    expect(api.body.wipe).toBeUndefined()
    const r = await d.refresh()
    expect(r.body).toMatchObject({ error: 'session_ended', reason: 'signed_out_elsewhere' })
  })

  it('logout of this device, revoke-others, password change and refresh reuse each name their reason', async () => {
    const d = await signedInDevice(app.url)
    const b = await secondDevice(d, 'b')
    const c = await secondDevice(d, 'c')
    const wsB = raw(app, b.tokens.sessionDoc, b.tokens.accessToken)
    await wsB.opened
    expect((await d.api('POST', '/sessions/revoke-others')).body.revoked).toBe(2)
    await wsB.closed
    expect(ended(wsB)?.reason).toBe('signed_out_elsewhere')
    expect((await c.refresh()).body.reason).toBe('signed_out_elsewhere')

    const e = await secondDevice(d, 'e')
    const wsE = raw(app, e.tokens.sessionDoc, e.tokens.accessToken)
    await wsE.opened
    expect((await d.api('POST', '/auth/password', { current: PASSWORD, next: PASSWORD + '!' })).status).toBe(204)
    await wsE.closed
    expect(ended(wsE)?.reason).toBe('password_changed')
    expect((await e.refresh()).body.reason).toBe('password_changed')

    const wsD = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await wsD.opened
    const spent = d.tokens.refreshToken
    expect((await d.refresh()).status).toBe(200)
    expect((await d.refresh()).status).toBe(200)
    const reuse = await d.refresh(spent)
    expect(reuse.body).toMatchObject({ error: 'refresh_token_reused', reason: 'refresh_reuse' })
    await wsD.closed
    expect(ended(wsD)?.reason).toBe('refresh_reuse')
    expect((await d.api('GET', '/me')).body.reason).toBe('refresh_reuse')

    const f = await d.login(PASSWORD + '!').then(() => d)
    const wsF = raw(app, f.tokens.sessionDoc, f.tokens.accessToken)
    await wsF.opened
    expect((await f.api('POST', '/auth/logout')).status).toBe(204)
    await wsF.closed
    expect(ended(wsF)?.reason).toBe('logout')
  })

  it('revocation with wipe: the device is told on its socket and on its next request; the list shows it pending until then', async () => {
    const d = await signedInDevice(app.url)
    const lost = await secondDevice(d, 'lost phone')
    const offline = await secondDevice(d, 'offline tablet')
    const ws = raw(app, lost.tokens.sessionDoc, lost.tokens.accessToken)
    await ws.opened
    expect((await d.api('POST', `/sessions/${lost.tokens.sessionId}/revoke`, { wipe: true })).status).toBe(204)
    await ws.closed
    expect(ended(ws)).toEqual({ reason: 'signed_out_elsewhere', wipe: true })
    expect((await d.api('POST', `/sessions/${offline.tokens.sessionId}/revoke`, { wipe: true })).status).toBe(204)
    const listed = (await d.api('GET', '/sessions')).body.sessions as Array<{ id: string, wipe?: string, endedAt?: number }>
    const row = listed.find(s => s.id === offline.tokens.sessionId)
    expect(row).toMatchObject({ wipe: 'pending' })
    expect(row?.endedAt).toBeGreaterThan(0)
    const r = await offline.refresh()
    expect(r.status).toBe(401)
    expect(r.body).toMatchObject({ error: 'session_ended', reason: 'signed_out_elsewhere', wipe: true })
    const after = (await d.api('GET', '/sessions')).body.sessions as Array<{ id: string }>
    expect(after.map(s => s.id)).not.toContain(offline.tokens.sessionId)
    // Without `wipe`, a plain revocation.
    const plain = await secondDevice(d, 'plain')
    expect((await d.api('POST', `/sessions/${plain.tokens.sessionId}/revoke`, {})).status).toBe(204)
    expect((await plain.refresh()).body.wipe).toBeUndefined()
    expect((await d.api('POST', `/sessions/${plain.tokens.sessionId}/revoke`, { wipe: 'yes' })).status).toBe(400)
  })
})

describe('expiry counts user activity only', () => {
  let app: Server
  const idleMs = 3000
  beforeAll(async () => { app = await startIdentityServer({ idleTimeoutMs: idleMs, absoluteLifetimeMs: 3_600_000 }) })
  afterAll(() => app.close())

  it('refresh, API reads and socket reconnects do not move the idle deadline; reported activity and edits do', async () => {
    const d = await signedInDevice(app.url)
    const first = await deadlines(d)
    expect(first.idleTimeoutMs).toBe(idleMs)
    expect(first.idleExpiresAt).toBe(first.lastActiveAt + idleMs)
    await pass(idleMs / 5) // past the activity throttle (a tenth of the idle timeout)
    expect((await d.refresh()).status).toBe(200)
    const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await ws.opened
    await ws.roundTrip()
    expect((await deadlines(d)).idleExpiresAt).toBe(first.idleExpiresAt)

    const act = await d.api('POST', '/me/activity')
    expect(act.status).toBe(200)
    expect(act.body.idleExpiresAt).toBeGreaterThan(first.idleExpiresAt)
    expect((await deadlines(d)).idleExpiresAt).toBe(act.body.idleExpiresAt)

    await pass(idleMs / 5)
    ws.doc.getText('t').insert(0, 'typing')
    await ws.roundTrip()
    await waitFor(async () => (await deadlines(d)).idleExpiresAt > act.body.idleExpiresAt, 5000, 'an edit to move the idle deadline')
    ws.ws.close()
    await ws.closed
  })

  it('an idle session ends with expired_idle even while its access token is refreshed', async () => {
    const d = await signedInDevice(app.url)
    const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await ws.opened
    await pass(idleMs / 2)
    expect((await d.refresh()).status).toBe(200) // not use
    expect(await ws.closed).toBe(CloseCode.sessionEnded)
    expect(ended(ws)?.reason).toBe('expired_idle')
    expect((await d.refresh()).body).toMatchObject({ error: 'session_ended', reason: 'expired_idle' })
  })
})

describe('absolute lifetime and policy changes', () => {
  it('a session past its absolute lifetime ends with expired_absolute, whatever its activity', async () => {
    const app = await startIdentityServer({ absoluteLifetimeMs: 2000 })
    try {
      const d = await signedInDevice(app.url)
      const ws = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
      await ws.opened
      expect((await d.api('POST', '/me/activity')).status).toBe(200)
      expect(await ws.closed).toBe(CloseCode.sessionEnded)
      expect(ended(ws)?.reason).toBe('expired_absolute')
      expect((await d.api('GET', '/me')).body.reason).toBe('expired_absolute')
    } finally { await app.close() }
  })

  it('a changed policy applies to existing sessions after a restart', async () => {
    const dataDir = await tempDir()
    const before = await startServer({ insecureNoAuth: false, dataDir })
    const d = await signedInDevice(before.url)
    const long = await deadlines(d)
    await before.close()
    const after = await startServer({ insecureNoAuth: false, dataDir, idleTimeoutMs: 60_000, absoluteLifetimeMs: 120_000 })
    try {
      d.baseUrl = after.url
      const short = await deadlines(d)
      expect(short.idleExpiresAt).toBe(long.lastActiveAt + 60_000)
      expect(short.absoluteExpiresAt).toBe(long.absoluteExpiresAt - EXPIRY_PRESETS.standard.absoluteLifetimeMs + 120_000)
    } finally { await after.close() }
  })
})
