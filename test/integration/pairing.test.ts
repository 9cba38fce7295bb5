import { Writable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DEVICE_CODE_GRANT_TYPE } from '../../shared/device-code.js'
import { createLogger } from '../../server/observe/logger.js'
import { totpCode } from '../../server/identity/mfa.js'
import type { ServerConfig } from '../../server/config.js'
import { startServer } from '../helpers/server.js'
import { closeCode, secondDevice, signedInDevice, startIdentityServer, TestDevice, type Res } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>

const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/
const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString())

/** A new device (a TV) that is not signed in: its own key, nothing else. */
const newTv = (url: string, name = 'tv') => TestDevice.create(url, 'nobody@example.com', name)
const askCode = (tv: TestDevice, device = { name: 'Living room TV', platform: 'tv' }) => tv.withProof('/auth/device/code', { device })
const poll = (tv: TestDevice, deviceCode: string, proof?: string) => tv.withProof('/auth/device/token', { grant_type: DEVICE_CODE_GRANT_TYPE, device_code: deviceCode }, proof)
/** A signed-in device's call with its Bearer token and a DPoP proof by its own key. */
const bound = async (d: TestDevice, path: string, body: unknown, token = d.tokens.accessToken) =>
  d.call('POST', path, body, { authorization: `Bearer ${token}`, dpop: await d.proof('POST', path) })
const expectError = (res: Res, status: number, error: string) => {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error })
}

describe('pairing a device by code (RFC 8628)', () => {
  const servers: Server[] = []
  afterEach(async () => {
    vi.useRealTimers()
    for (const s of servers.splice(0)) await s.close()
  })
  const start = async (o: Partial<ServerConfig> = {}) => { const s = await startIdentityServer(o); servers.push(s); return s }

  it('a signed-in device approves the code; the new device gets a session bound to its own key, once', async () => {
    const app = await start()
    const phone = await signedInDevice(app.url, undefined, 'phone')
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    expect(code.status).toBe(200)
    expect(code.headers.get('cache-control')).toBe('no-store')
    expect(code.body).toEqual({
      device_code: expect.any(String), user_code: expect.stringMatching(USER_CODE),
      verification_uri: `${app.url}/device`, verification_uri_complete: `${app.url}/device?code=${code.body.user_code}`,
      expires_in: 600, interval: 5
    })
    expect(code.body.device_code.length).toBeGreaterThanOrEqual(43)
    // Only the device code's hash is stored.
    const stored = JSON.stringify(await app.db!.sublevel('device-grants', { valueEncoding: 'json' }).iterator().all())
    expect(stored).not.toContain(code.body.device_code)
    expect(stored).toContain(code.body.user_code.replace('-', ''))

    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending')

    // The person types the code in any case, with or without the hyphen.
    const typed = code.body.user_code.toLowerCase().replace('-', ' ')
    const look = await phone.api('POST', '/auth/device/lookup', { user_code: typed })
    expect(look.status).toBe(200)
    expect(look.body).toEqual({
      userCode: code.body.user_code, device: { name: 'Living room TV', platform: 'tv' }, ip: '127.0.0.1', userAgent: expect.any(String),
      requestedAt: expect.any(Number), expiresAt: expect.any(Number), sameNetwork: true
    })
    expect(look.body.expiresAt - look.body.requestedAt).toBe(600_000)

    const approved = await bound(phone, '/auth/device/approve', { user_code: code.body.user_code })
    expect(approved.status).toBe(200)
    const tokens = await poll(tv, code.body.device_code)
    expect(tokens.status).toBe(200)
    expect(tokens.body).toMatchObject({ userId: phone.tokens.userId, sessionDoc: phone.tokens.sessionDoc })
    expect(claims(tokens.body.accessToken).amr).toEqual(['pair'])
    tv.tokens = tokens.body

    // A device session like any other: on the dashboard, with a socket to the session document.
    const list = await phone.api('GET', '/sessions')
    expect(list.body.sessions.map((s: { deviceName: string }) => s.deviceName).sort()).toEqual(['Living room TV', 'phone'])
    const ws = await tv.socket(tv.tokens.sessionDoc)
    const closed = closeCode(ws)

    // The device code worked once.
    expectError(await poll(tv, code.body.device_code), 400, 'invalid_grant')
    // The session is bound to the TV's key: its refresh works with it and with no other key.
    const phoneKeyProof = await tv.proof('POST', '/auth/refresh', { key: phone.key })
    expectError(await tv.refresh(tv.tokens.refreshToken, phoneKeyProof), 401, 'invalid_dpop_proof')
    expect((await tv.refresh()).status).toBe(200)

    // Revocable like any other device.
    expect((await phone.api('DELETE', `/sessions/${tv.tokens.sessionId}`)).status).toBe(204)
    expect(await closed).toBe(4403)
  })

  it('asking and polling need the new device’s DPoP proof; only the asking key may poll', async () => {
    const app = await start()
    const tv = await newTv(app.url)
    expectError(await tv.call('POST', '/auth/device/code', { device: { name: 'TV', platform: 'tv' } }), 401, 'invalid_dpop_proof')
    const code = await askCode(tv)
    const thief = await newTv(app.url, 'thief')
    expectError(await poll(thief, code.body.device_code), 401, 'invalid_dpop_proof')
    expectError(await tv.call('POST', '/auth/device/token', { grant_type: DEVICE_CODE_GRANT_TYPE, device_code: code.body.device_code }), 401, 'invalid_dpop_proof')
    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending')
  })

  it('approval needs a proof by the approving session’s key: a copied access token alone cannot add a device', async () => {
    const app = await start()
    const phone = await signedInDevice(app.url)
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    const body = { user_code: code.body.user_code }
    expectError(await phone.api('POST', '/auth/device/approve', body), 401, 'invalid_dpop_proof')
    const otherKey = await phone.proof('POST', '/auth/device/approve', { key: tv.key })
    expectError(await phone.call('POST', '/auth/device/approve', body, { authorization: `Bearer ${phone.tokens.accessToken}`, dpop: otherKey }), 401, 'invalid_dpop_proof')
    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending')
    expect((await bound(phone, '/auth/device/approve', body)).status).toBe(200)
  })

  it('a denied request answers access_denied to the device, once', async () => {
    const app = await start()
    const phone = await signedInDevice(app.url)
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    const denied = await phone.api('POST', '/auth/device/deny', { user_code: code.body.user_code })
    expect(denied.status).toBe(200)
    expectError(await poll(tv, code.body.device_code), 400, 'access_denied')
    expectError(await poll(tv, code.body.device_code), 400, 'invalid_grant')
    // A decided code cannot be decided again.
    expectError(await bound(phone, '/auth/device/approve', { user_code: code.body.user_code }), 400, 'invalid_user_code')
  })

  it('polling too fast gets slow_down with 5 s more each time; waiting long enough brings the interval back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const app = await start()
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    const at = (s: number) => vi.setSystemTime(Date.now() + s * 1000)
    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending')
    const fast = await poll(tv, code.body.device_code)
    expectError(fast, 400, 'slow_down')
    expect(fast.body.message).toContain('10 s')
    at(5)
    expectError(await poll(tv, code.body.device_code), 400, 'slow_down') // 5 s < 10 s: now 15 s
    at(15)
    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending') // waited: back to 10 s
    at(10)
    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending') // back to 5 s
    at(5)
    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending')
    at(4.6) // within the jitter allowance
    expectError(await poll(tv, code.body.device_code), 400, 'authorization_pending')
    at(1)
    expectError(await poll(tv, code.body.device_code), 400, 'slow_down')
  })

  it('codes expire: the device gets expired_token, the person invalid_user_code', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const app = await start({ deviceCodeTtlMs: 120_000 })
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    expect(code.body.expires_in).toBe(120)
    vi.setSystemTime(Date.now() + 120_000)
    const phone = await signedInDevice(app.url)
    expectError(await phone.api('POST', '/auth/device/lookup', { user_code: code.body.user_code }), 400, 'invalid_user_code')
    expectError(await bound(phone, '/auth/device/approve', { user_code: code.body.user_code }), 400, 'invalid_user_code')
    expectError(await poll(tv, code.body.device_code), 400, 'expired_token')
    expectError(await poll(tv, code.body.device_code), 400, 'expired_token')
  })

  it('an approval that is not redeemed before the code expires is void', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const app = await start({ deviceCodeTtlMs: 60_000 })
    const phone = await signedInDevice(app.url)
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    expect((await bound(phone, '/auth/device/approve', { user_code: code.body.user_code })).status).toBe(200)
    vi.setSystemTime(Date.now() + 60_000)
    expectError(await poll(tv, code.body.device_code), 400, 'expired_token')
  })

  it('with MFA on, approving needs a fresh second factor (step-up)', async () => {
    const app = await start()
    const phone = await signedInDevice(app.url)
    const stale = phone.tokens.accessToken
    const enroll = await phone.api('POST', '/auth/mfa/enroll')
    expect((await phone.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) })).status).toBe(200)
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    expectError(await bound(phone, '/auth/device/approve', { user_code: code.body.user_code }, stale), 403, 'step_up_required')
    // Looking and denying need no step-up; the lookup shows what asks.
    expect((await phone.api('POST', '/auth/device/lookup', { user_code: code.body.user_code }, stale)).status).toBe(200)
    const up = await phone.api('POST', '/auth/step-up', { code: totpCode(enroll.body.secret, 1) })
    expect(up.status).toBe(200)
    expect((await bound(phone, '/auth/device/approve', { user_code: code.body.user_code }, up.body.accessToken)).status).toBe(200)
    expect((await poll(tv, code.body.device_code)).status).toBe(200)
  })

  it('refuses what cannot be a code, and bodies that are not the RFC’s', async () => {
    const app = await start()
    const phone = await signedInDevice(app.url)
    for (const userCode of ['hello', 'AAAA-AAAA', 'BCDF-GHJ', 'BCDF-GHJKL', '']) {
      const res = await phone.api('POST', '/auth/device/lookup', { user_code: userCode })
      expect([400], userCode).toContain(res.status)
      expect(['invalid_user_code', 'invalid_request'], userCode).toContain(res.body.error)
    }
    const tv = await newTv(app.url)
    expectError(await tv.withProof('/auth/device/token', { device_code: 'x'.repeat(43) }), 400, 'invalid_request')
    expectError(await tv.withProof('/auth/device/token', { grant_type: 'password', device_code: 'x'.repeat(43) }), 400, 'invalid_request')
    expectError(await tv.withProof('/auth/device/code', { device: { name: '', platform: 'tv' } }), 400, 'invalid_request')
    expectError(await tv.withProof('/auth/device/code', { device: { name: 'TV', platform: 'tv' }, extra: 1 }), 400, 'invalid_request')
    expectError(await tv.call('POST', '/auth/device/lookup', { user_code: 'BCDF-GHJK' }), 401, 'invalid_token')
  })
})

describe('pairing: guessing is rate limited', () => {
  const servers: Server[] = []
  afterEach(async () => { for (const s of servers.splice(0)) await s.close() })
  const start = async (o: Partial<ServerConfig> = {}) => { const s = await startIdentityServer(o); servers.push(s); return s }
  const expectLimited = (res: Res) => {
    expectError(res, 429, 'rate_limited')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
  }

  it('wrong user codes count per account and per IP; then 429 even for a right code', async () => {
    const app = await start({ userCodeAttempts: 3 })
    const phone = await signedInDevice(app.url)
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    const wrong = code.body.user_code === 'BBBB-BBBB' ? 'CCCC-CCCC' : 'BBBB-BBBB'
    for (let i = 0; i < 3; i++) expectError(await phone.api('POST', '/auth/device/lookup', { user_code: wrong }), 400, 'invalid_user_code')
    expectLimited(await phone.api('POST', '/auth/device/lookup', { user_code: code.body.user_code }))
    expectLimited(await bound(phone, '/auth/device/approve', { user_code: code.body.user_code }))
    // The IP's budget is spent too: another account from the same address is refused as well.
    const other = await signedInDevice(app.url)
    expectLimited(await other.api('POST', '/auth/device/lookup', { user_code: code.body.user_code }))
  })

  it('each user code can be entered 5 times; then it is void and the device hears access_denied', async () => {
    const app = await start()
    const phone = await signedInDevice(app.url)
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    for (let i = 0; i < 5; i++) expect((await phone.api('POST', '/auth/device/lookup', { user_code: code.body.user_code })).status).toBe(200)
    expectError(await phone.api('POST', '/auth/device/lookup', { user_code: code.body.user_code }), 400, 'invalid_user_code')
    expectError(await bound(phone, '/auth/device/approve', { user_code: code.body.user_code }), 400, 'invalid_user_code')
    expectError(await poll(tv, code.body.device_code), 400, 'access_denied')
  })

  it('unknown device codes count against the IP', async () => {
    const app = await start({ userCodeAttempts: 2 })
    const tv = await newTv(app.url)
    const code = await askCode(tv)
    for (let i = 0; i < 2; i++) expectError(await poll(tv, 'A'.repeat(42) + i), 400, 'invalid_grant')
    expectLimited(await poll(tv, code.body.device_code))
  })

  it('new codes per IP per hour are limited', async () => {
    const app = await start({ deviceCodesPerIp: 2 })
    const tv = await newTv(app.url)
    expect((await askCode(tv)).status).toBe(200)
    expect((await askCode(tv)).status).toBe(200)
    expectLimited(await askCode(tv))
  })
})

describe('pairing: security events and logs', () => {
  it('approval and denial are security events naming the device; no code or token reaches the log', async () => {
    const lines: string[] = []
    const sink = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
    const app = await startServer({ insecureNoAuth: false, logLevel: 'trace' }, { logger: createLogger('trace', sink) })
    try {
      const phone = await signedInDevice(app.url)
      const second = await secondDevice(phone, 'laptop')
      const secrets: string[] = []
      const pair = async (name: string, decide: 'approve' | 'deny') => {
        const tv = await newTv(app.url)
        const code = await askCode(tv, { name, platform: 'tv' })
        secrets.push(code.body.device_code, code.body.user_code, code.body.user_code.replace('-', ''))
        await phone.api('POST', '/auth/device/lookup', { user_code: code.body.user_code.toLowerCase() })
        expect((await bound(second, `/auth/device/${decide}`, { user_code: code.body.user_code })).status).toBe(200)
        const res = await poll(tv, code.body.device_code)
        if (res.status === 200) secrets.push(res.body.accessToken, res.body.refreshToken)
      }
      await pair('Bedroom TV', 'approve')
      await pair('Unknown TV', 'deny')
      await phone.api('POST', '/auth/device/lookup', { user_code: 'BCDF-GHJK' })
      const log = lines.join('')
      const events = lines.map(l => JSON.parse(l)).filter(l => l.event === 'security')
      expect(events.find(e => e.kind === 'pairing_approved')).toMatchObject({ userId: phone.tokens.userId, sessionId: second.tokens.sessionId, ip: '127.0.0.1', reason: 'tv: Bedroom TV from 127.0.0.1' })
      expect(events.find(e => e.kind === 'pairing_denied')).toMatchObject({ reason: 'tv: Unknown TV from 127.0.0.1' })
      expect(events.some(e => e.kind === 'new_device' && e.reason === 'tv: Bedroom TV')).toBe(true)
      expect(events.some(e => e.kind === 'pairing_code_failed')).toBe(true)
      for (const s of secrets) expect(log.includes(s) ? `log holds ${s.slice(0, 6)}…` : 'clean').toBe('clean')
    } finally {
      await app.close()
    }
  })
})
