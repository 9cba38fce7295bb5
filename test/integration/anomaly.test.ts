import { randomUUID } from 'node:crypto'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { PASSWORD, TestDevice, closeCode } from '../helpers/identity.js'
import { startServer, waitFor } from '../helpers/server.js'
import { decodeMessage, MessageType } from '../../shared/protocol.js'
import type { SecurityAlertMessage } from '../../shared/api.js'
import type { ServerConfig } from '../../server/config.js'
import type { Locate, Place } from '../../server/anomaly/geo.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

// Client addresses come from X-Forwarded-For (one trusted proxy hop); sockets stay on 127.0.0.1.
const HOME = '10.1.1.5'
const HOME_2 = '10.1.1.9'
const FAR = '203.0.113.7'
const LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0'
const TV = 'Mozilla/5.0 (SMART-TV; Tizen 6.0) SamsungBrowser/4.0 TV'

/** An offline "database" for the impossible-travel signal: Berlin for 10.x, Sydney for 203.0.113.x. */
const PLACES: Array<[string, Place]> = [['10.', { lat: 52.52, lon: 13.4, city: 'Berlin', country: 'DE' }], ['203.0.113.', { lat: -33.87, lon: 151.21, city: 'Sydney', country: 'AU' }]]
const locate: Locate = ip => PLACES.find(([prefix]) => ip.startsWith(prefix))?.[1]

const start = async (overrides: Partial<ServerConfig> = {}, withGeo = false) => {
  const s = await startServer({ insecureNoAuth: false, trustedProxies: '1', ...overrides }, withGeo ? { locate } : {})
  cleanups.push(() => s.close())
  return s
}
type Server = Awaited<ReturnType<typeof start>>

/** A device of a user at an address with a user agent: every request it makes carries both. */
class Device extends TestDevice {
  ip = HOME
  ua = LAPTOP
  override call<T> (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return super.call<T>(method, path, body, { 'x-forwarded-for': this.ip, 'user-agent': this.ua, ...headers })
  }

  static async at (s: Server, email: string, ip: string, ua: string, name = 'device'): Promise<Device> {
    const base = await TestDevice.create(s.url, email, name)
    return Object.assign(Object.create(Device.prototype) as Device, base, { ip, ua })
  }

  /** The session document socket, reading extension messages; collects the alert messages. */
  async alertSocket () {
    const ws = new WebSocket(`${this.baseUrl.replace('http', 'ws')}/sync/${this.tokens.sessionDoc}?ext=1&token=${encodeURIComponent(this.tokens.accessToken)}`, { headers: { 'x-forwarded-for': this.ip, 'user-agent': this.ua } })
    const messages: SecurityAlertMessage[] = []
    ws.on('message', (data: Buffer) => {
      const msg = decodeMessage(new Uint8Array(data))
      if (msg.type === MessageType.securityAlert) messages.push(JSON.parse(msg.json) as SecurityAlertMessage)
    })
    cleanups.push(() => ws.terminate())
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    return { ws, messages }
  }
}

const user = async (s: Server) => {
  const email = `a-${randomUUID().slice(0, 8)}@example.com`
  const laptop = await Device.at(s, email, HOME, LAPTOP, 'laptop')
  expect((await laptop.register()).status).toBe(201)
  expect((await laptop.login()).status).toBe(200)
  return { email, laptop }
}
const anomalies = async (s: Server, userId: string) => {
  await s.anomaly!.detector.idle()
  return s.identity!.identity.store.securityEvents({ userId, kinds: ['anomaly'], limit: 50 })
}

describe('anomaly detection', () => {
  it('normal use raises nothing: devices at home, refreshes, sockets, a mistyped password', async () => {
    const s = await start({}, true)
    const { email, laptop } = await user(s)
    const phone = await Device.at(s, email, HOME_2, LAPTOP, 'phone')
    expect((await phone.login()).status).toBe(200)
    expect((await phone.login('wrong password')).status).toBe(401)
    expect((await phone.login()).status).toBe(200)
    expect((await laptop.refresh()).status).toBe(200)
    const { messages } = await laptop.alertSocket()
    laptop.ip = HOME_2 // same network, another address
    expect((await laptop.api('GET', '/sessions')).status).toBe(200)
    expect((await phone.refresh()).status).toBe(200)
    expect(await anomalies(s, laptop.tokens.userId)).toEqual([])
    expect((await laptop.api('GET', '/auth/alerts')).body.alerts).toEqual([])
    expect(messages).toEqual([])
  })

  it('a sign-in on a new device from a new network alerts the other devices live; "it was me" resolves it everywhere', async () => {
    const s = await start({}, true)
    const { email, laptop } = await user(s)
    const live = await laptop.alertSocket()
    const tv = await Device.at(s, email, FAR, TV, 'Living room TV')
    expect((await tv.login()).status).toBe(200)
    const tvSocket = await tv.alertSocket()
    await waitFor(() => live.messages.length > 0, undefined, 'the alert on the laptop')
    const msg = live.messages[0]!
    expect(msg.type).toBe('alert')
    if (msg.type !== 'alert') return
    // Sydney, minutes after Berlin: impossible travel is the strongest signal of the three.
    expect(msg.alert).toMatchObject({ signal: 'impossible_travel', sessionId: tv.tokens.sessionId, device: { name: 'Living room TV' }, place: 'Sydney, AU', ip: FAR })
    expect(msg.alert.signals.sort()).toEqual(['impossible_travel', 'new_device', 'new_network'])
    expect(msg.alert.score).toBe(100)
    const listed = (await laptop.api('GET', '/auth/alerts')).body.alerts
    expect(listed.map((a: { id: string }) => a.id)).toEqual([msg.alert.id])
    expect(tvSocket.messages).toEqual([]) // the device the alert is about is not asked…
    expect((await tv.api('POST', `/auth/alerts/${msg.alert.id}/confirm`)).status).toBe(409) // …and cannot answer it
    expect((await laptop.api('POST', `/auth/alerts/${msg.alert.id}/confirm`)).status).toBe(204)
    await waitFor(() => live.messages.length > 1, undefined, 'the resolution')
    expect(live.messages[1]).toEqual({ type: 'resolved', id: msg.alert.id, resolution: 'confirmed' })
    expect((await laptop.api('GET', '/auth/alerts')).body.alerts).toEqual([])
    expect((await laptop.api('POST', `/auth/alerts/${msg.alert.id}/confirm`)).status).toBe(404)
    expect((await tv.refresh()).status).toBe(200)
  })

  it('"sign it out" ends the alerted session and closes its sockets', async () => {
    const s = await start()
    const { email, laptop } = await user(s)
    const live = await laptop.alertSocket()
    const tv = await Device.at(s, email, FAR, TV, 'TV')
    expect((await tv.login()).status).toBe(200)
    const tvSocket = await tv.alertSocket()
    await waitFor(() => live.messages.length > 0, undefined, 'the alert')
    const alert = live.messages[0]!
    if (alert.type !== 'alert') throw new Error('expected an alert')
    expect(alert.alert.signals.sort()).toEqual(['new_device', 'new_network'])
    expect((await tv.api('POST', `/auth/alerts/${alert.alert.id}/sign-out`)).status).toBe(409) // not about itself
    const closed = closeCode(tvSocket.ws)
    expect((await laptop.api('POST', `/auth/alerts/${alert.alert.id}/sign-out`)).status).toBe(204)
    expect(await closed).toBe(4403)
    expect((await tv.refresh()).body.error).toBe('session_ended')
    expect((await laptop.api('GET', '/sessions')).status).toBe(200)
  })

  it('a burst of failed sign-ins, a replayed refresh token and many new sessions each raise their signal', async () => {
    const s = await start({ refreshGraceMs: 0 })
    const { email, laptop } = await user(s)
    const live = await laptop.alertSocket()
    const guesser = await Device.at(s, email, FAR, LAPTOP, 'guesser')
    for (let i = 0; i < 5; i++) expect((await guesser.login('not the password')).status).toBe(401)
    await waitFor(() => live.messages.some(m => m.type === 'alert' && m.alert.signal === 'failed_login_burst'), undefined, 'the failed-login alert')

    const phone = await Device.at(s, email, HOME, LAPTOP, 'phone')
    expect((await phone.login()).status).toBe(200)
    const old = phone.tokens.refreshToken
    expect((await phone.refresh()).status).toBe(200)
    expect((await phone.refresh(old)).body.error).toBe('refresh_token_reused')
    await waitFor(() => live.messages.some(m => m.type === 'alert' && m.alert.signal === 'refresh_reuse' && m.alert.sessionId === phone.tokens.sessionId), undefined, 'the reuse alert')

    // The laptop's sign-in, the phone's, and three more within minutes: five.
    for (let i = 0; i < 3; i++) expect((await (await Device.at(s, email, HOME, LAPTOP, `script ${i}`)).login()).status).toBe(200)
    await waitFor(() => live.messages.some(m => m.type === 'alert' && m.alert.signal === 'session_burst'), undefined, 'the session-burst alert')
    const kinds = (await anomalies(s, laptop.tokens.userId)).map(e => e.reason).sort()
    expect(kinds).toEqual(['failed_login_burst', 'refresh_reuse', 'session_burst'])
  })

  it('a session used from two networks at once is revoked under --anomaly-policy concurrent_networks=revoke', async () => {
    const s = await start({ anomalyPolicy: 'concurrent_networks=revoke' })
    const { email, laptop } = await user(s)
    const phone = await Device.at(s, email, HOME, LAPTOP, 'phone')
    expect((await phone.login()).status).toBe(200)
    const phoneLive = await phone.alertSocket()
    // The laptop's tokens, copied, used from elsewhere.
    laptop.ip = FAR
    expect((await laptop.api('GET', '/sessions')).status).toBe(200)
    await waitFor(async () => (await anomalies(s, laptop.tokens.userId)).length > 0, undefined, 'the anomaly')
    const [e] = await anomalies(s, laptop.tokens.userId)
    expect(e).toMatchObject({ reason: 'concurrent_networks', sessionId: laptop.tokens.sessionId, detail: { action: 'revoke' } })
    expect((await laptop.api('GET', '/sessions')).body.error).toBe('session_ended')
    await waitFor(() => phoneLive.messages.length > 0, undefined, 'the alert on the phone')
  })

  it('step_up: the flagged session must prove its second factor again before a sensitive act', async () => {
    const s = await start({ anomalyPolicy: 'new_network=step_up' })
    const { totpCode } = await import('../../server/identity/mfa.js')
    const { email, laptop } = await user(s)
    const enroll = await laptop.api('POST', '/auth/mfa/enroll')
    const confirmed = await laptop.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) })
    expect(confirmed.status).toBe(200)
    const away = await Device.at(s, email, FAR, LAPTOP, 'away')
    const first = await away.withProof('/auth/login', { email, password: PASSWORD, device: { name: 'away', platform: 'node' } })
    const verified = await away.withProof('/auth/mfa/verify', { mfaToken: first.body.mfaToken, code: totpCode(enroll.body.secret, 1) })
    expect(verified.status, JSON.stringify(verified.body)).toBe(200)
    away.tokens = verified.body
    await waitFor(async () => (await anomalies(s, laptop.tokens.userId)).length > 0, undefined, 'the anomaly')
    // Signed in with both factors a moment ago, yet a sensitive act asks again.
    expect((await away.api('POST', '/sessions/revoke-others')).body.error).toBe('step_up_required')
    const stepped = await away.api('POST', '/auth/step-up', { code: confirmed.body.recoveryCodes[0] })
    expect(stepped.status, JSON.stringify(stepped.body)).toBe(200)
    expect((await away.api('POST', '/sessions/revoke-others', undefined, stepped.body.accessToken)).status).toBe(200)
  })
})
