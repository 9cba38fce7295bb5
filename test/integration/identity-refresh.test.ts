import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair } from 'jose'
import { startIdentityServer, signedInDevice, secondDevice, closeCode, TestDevice, UpgradeRefused } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>

describe('refresh tokens: rotation, reuse detection, device binding (DPoP)', () => {
  let app: Server
  beforeAll(async () => { app = await startIdentityServer({ refreshGraceMs: 2000 }) })
  afterAll(() => app.close())

  it('every refresh rotates the token; the new pair works', async () => {
    const d = await signedInDevice(app.url)
    const first = d.tokens
    const res = await d.refresh()
    expect(res.status).toBe(200)
    expect(res.body.refreshToken).not.toBe(first.refreshToken)
    expect(res.body.sessionId).toBe(first.sessionId)
    expect(Buffer.from(res.body.refreshToken, 'base64url')).toHaveLength(32)
    expect((await d.api('GET', '/sessions')).status).toBe(200)
    expect((await d.refresh()).status).toBe(200)
  })

  it('replaying a rotated token revokes the whole device session: tokens and live sockets', async () => {
    const d = await signedInDevice(app.url)
    const other = await secondDevice(d)
    const stolen = d.tokens.refreshToken
    expect((await d.refresh()).status).toBe(200)
    const ws = await d.socket(d.tokens.sessionDoc)
    const closed = closeCode(ws)
    // Real time is the subject: past the grace window, with a margin (a later replay is no less a replay).
    await new Promise(resolve => setTimeout(resolve, app.config.refreshGraceMs + 500))
    const replay = await d.refresh(stolen)
    expect(replay.status).toBe(401)
    expect(replay.body.error).toBe('refresh_token_reused')
    expect(await closed).toBe(4403)
    // The legitimate current token is dead too, and so is the access token.
    const again = await d.refresh()
    expect(again.status).toBe(401)
    expect(again.body.error).toBe('session_ended')
    expect((await d.api('GET', '/sessions')).body.error).toBe('session_ended')
    await expect(d.socket(d.tokens.sessionDoc)).rejects.toBeInstanceOf(UpgradeRefused)
    // Only that device: the user's other device is unaffected and no longer lists it.
    const list = await other.api('GET', '/sessions')
    expect(list.body.sessions.map((s: { id: string }) => s.id)).toEqual([other.tokens.sessionId])
  })

  it('a lost response: retrying the same refresh within the grace window gets the same successor, no revocation', async () => {
    const d = await signedInDevice(app.url)
    const old = d.tokens.refreshToken
    const a = await d.refresh(old)
    const b = await d.refresh(old)
    expect(a.status).toBe(200)
    expect(b.status).toBe(200)
    expect(b.body.refreshToken).toBe(a.body.refreshToken)
    expect((await d.refresh()).status).toBe(200)
    // Once the successor was used, the old token is plain reuse.
    const late = await d.refresh(old)
    expect(late.body.error).toBe('refresh_token_reused')
  })

  it('concurrent refreshes with the same token (two tabs): one successor, session survives', async () => {
    const d = await signedInDevice(app.url)
    const token = d.tokens.refreshToken
    const results = await Promise.all([d.withProof('/auth/refresh', { refreshToken: token }), d.withProof('/auth/refresh', { refreshToken: token })])
    expect(results.map(r => r.status)).toEqual([200, 200])
    expect(results[0]!.body.refreshToken).toBe(results[1]!.body.refreshToken)
    d.tokens = results[0]!.body
    expect((await d.refresh()).status).toBe(200)
  })

  it('a stolen refresh token without the device key is useless, and does not hurt the real device', async () => {
    const d = await signedInDevice(app.url)
    const thief = await TestDevice.create(app.url, d.email, 'thief')
    const res = await thief.refresh(d.tokens.refreshToken)
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('invalid_dpop_proof')
    expect((await d.refresh()).status).toBe(200)
  })

  it('DPoP proof checks: missing, replayed, another key, wrong htm, wrong htu, stale, future, wrong typ', async () => {
    const d = await signedInDevice(app.url)
    const body = { refreshToken: d.tokens.refreshToken }
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    const otherKey = { privateKey, jwk: await exportJWK(publicKey) }
    const now = Math.floor(Date.now() / 1000)
    const bad = [
      await d.call('POST', '/auth/refresh', body),
      await d.withProof('/auth/refresh', body, await d.proof('POST', '/auth/refresh', { key: otherKey })),
      await d.withProof('/auth/refresh', body, await d.proof('POST', '/auth/refresh', { htm: 'GET' })),
      await d.withProof('/auth/refresh', body, await d.proof('POST', '/auth/refresh', { htu: `${app.url}/auth/login` })),
      await d.withProof('/auth/refresh', body, await d.proof('POST', '/auth/refresh', { htu: 'https://evil.example/auth/refresh' })),
      await d.withProof('/auth/refresh', body, await d.proof('POST', '/auth/refresh', { iat: now - 120 })),
      await d.withProof('/auth/refresh', body, await d.proof('POST', '/auth/refresh', { iat: now + 120 })),
      await d.withProof('/auth/refresh', body, await d.proof('POST', '/auth/refresh', { typ: 'JWT' })),
      await d.withProof('/auth/refresh', body, 'garbage')
    ]
    for (const r of bad) {
      expect(r.status).toBe(401)
      expect(r.body.error).toBe('invalid_dpop_proof')
    }
    // Replay: a proof that worked once never works again.
    const proof = await d.proof('POST', '/auth/refresh')
    expect((await d.refresh(undefined, proof)).status).toBe(200)
    const replay = await d.withProof('/auth/refresh', { refreshToken: d.tokens.refreshToken }, proof)
    expect(replay.status).toBe(401)
    expect(replay.body.message).toMatch(/already used/)
    // None of that hurt the session.
    expect((await d.refresh()).status).toBe(200)
  })

  it('login needs a proof too, and binds the session to that key', async () => {
    const d = await signedInDevice(app.url)
    const noProof = await d.call('POST', '/auth/login', { email: d.email, password: 'correct horse battery staple', device: { name: 'x', platform: 'node' } })
    expect(noProof.status).toBe(401)
    expect(noProof.body.error).toBe('invalid_dpop_proof')
  })

  it('an unknown refresh token is 401 invalid_token', async () => {
    const d = await signedInDevice(app.url)
    const res = await d.refresh(randomUUID() + randomUUID())
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('invalid_token')
  })
})
