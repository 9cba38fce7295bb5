import net from 'node:net'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../server/observe/logger.js'
import { totpCode } from '../../server/identity/mfa.js'
import { encodeReauth } from '../../shared/protocol.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer, waitFor } from '../helpers/server.js'
import { TestDevice, PASSWORD, type Res, sessionDocUrl } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startServer>>

const NEW_PASSWORD = 'a different passphrase 7'
const WRONG_PASSWORD = 'wrong passphrase guess 1'

/** One HTTP/1.1 request written as given, for requests fetch() refuses to send; resolves with the reply. */
const rawHttp = (url: string, request: string): Promise<string> => new Promise((resolve, reject) => {
  const { hostname, port } = new URL(url)
  const socket = net.connect(Number(port), hostname, () => socket.end(request))
  let reply = ''
  socket.on('data', d => { reply += String(d) })
  socket.on('close', () => resolve(reply))
  socket.on('error', reject)
})

describe('no secret reaches the logs or an error message, with the logger at trace', () => {
  let app: Server
  const lines: string[] = []
  const secrets = new Set<string>([PASSWORD, NEW_PASSWORD, WRONG_PASSWORD])
  const errorBodies: string[] = []
  /** Every error answer is kept: no message may quote a secret back either. */
  const kept = <T extends Res>(res: T): T => {
    if (res.status >= 400) errorBodies.push(JSON.stringify(res.body))
    return res
  }
  const keepTokens = (body: Record<string, unknown>) => {
    for (const k of ['accessToken', 'refreshToken', 'mfaToken', 'secret', 'otpauthUri']) if (typeof body?.[k] === 'string') secrets.add(body[k] as string)
    for (const c of (body?.recoveryCodes as string[] | undefined) ?? []) secrets.add(c)
  }

  beforeAll(async () => {
    const sink = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
    app = await startServer({ insecureNoAuth: false, logLevel: 'trace', accessTokenTtlMs: 60_000 }, { logger: createLogger('trace', sink) })
  })
  afterAll(() => app.close())

  it('register, sign in, refresh, reauth in-band, MFA, step-up, password change and failed attempts of each', async () => {
    const d = await TestDevice.create(app.url, `logs-${Date.now()}@example.com`)
    const proofs: string[] = []
    const proof = async (path: string) => { const p = await d.proof('POST', path); proofs.push(p); return p }
    expect(kept(await d.register()).status).toBe(201)
    const login = kept(await d.withProof('/auth/login', { email: d.email, password: PASSWORD, device: { name: 'laptop', platform: 'node' } }, await proof('/auth/login')))
    expect(login.status).toBe(200)
    keepTokens(login.body)
    d.tokens = login.body
    const firstRefresh = d.tokens.refreshToken

    // Failed sign-ins and token checks.
    kept(await d.withProof('/auth/login', { email: d.email, password: WRONG_PASSWORD, device: { name: 'x', platform: 'node' } }, await proof('/auth/login')))
    const replayed = proofs[0]!
    kept(await d.withProof('/auth/login', { email: d.email, password: PASSWORD, device: { name: 'x', platform: 'node' } }, replayed))
    kept(await d.api('GET', '/me', undefined, d.tokens.accessToken + 'x'))
    kept(await d.withProof('/auth/refresh', { refreshToken: 'A'.repeat(43) }, await proof('/auth/refresh')))

    // Refresh, then the socket: opened with ?token=, renewed in-band, and a refused renewal.
    const refreshed = kept(await d.withProof('/auth/refresh', { refreshToken: d.tokens.refreshToken }, await proof('/auth/refresh')))
    expect(refreshed.status).toBe(200)
    keepTokens(refreshed.body)
    d.tokens = refreshed.body
    const ws = new RawClient(sessionDocUrl(app.wsUrl, d))
    await ws.opened
    const again = kept(await d.withProof('/auth/refresh', { refreshToken: d.tokens.refreshToken }, await proof('/auth/refresh')))
    keepTokens(again.body)
    d.tokens = again.body
    ws.sendRaw(encodeReauth(d.tokens.accessToken))
    const forged = d.tokens.accessToken.slice(0, -4) + 'AAAA'
    secrets.add(forged)
    ws.sendRaw(encodeReauth(forged))
    await waitFor(() => lines.some(l => l.includes('in-band reauth refused')), 3000, 'the refused reauth is logged')
    await expect(new RawClient(sessionDocUrl(app.wsUrl, d, forged)).opened).rejects.toMatchObject({ status: 401 })
    const viaProtocol = new RawClient(`${app.wsUrl}/${d.tokens.sessionDoc}`, { protocols: ['y-websocket', `access_token.${d.tokens.accessToken}`] })
    await viaProtocol.opened
    viaProtocol.ws.close()

    // MFA: enrollment secret, recovery codes, the sign-in challenge, step-up.
    const enroll = kept(await d.api('POST', '/auth/mfa/enroll'))
    keepTokens(enroll.body)
    kept(await d.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) === '000000' ? '111111' : '000000' }))
    const confirm = kept(await d.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) }))
    expect(confirm.status).toBe(200)
    keepTokens(confirm.body)
    const phone = await TestDevice.create(app.url, d.email, 'phone')
    const challenge = kept(await phone.login())
    keepTokens(challenge.body)
    kept(await phone.withProof('/auth/mfa/verify', { mfaToken: challenge.body.mfaToken, code: confirm.body.recoveryCodes[9] + 'x' }))
    const verified = kept(await phone.withProof('/auth/mfa/verify', { mfaToken: challenge.body.mfaToken, code: confirm.body.recoveryCodes[0] }))
    expect(verified.status).toBe(200)
    keepTokens(verified.body)
    const up = kept(await d.api('POST', '/auth/step-up', { code: totpCode(enroll.body.secret, 1) }))
    expect(up.status).toBe(200)
    keepTokens(up.body)
    kept(await d.api('POST', '/auth/password', { current: WRONG_PASSWORD, next: NEW_PASSWORD }, up.body.accessToken))
    expect(kept(await d.api('POST', '/auth/password', { current: PASSWORD, next: NEW_PASSWORD }, up.body.accessToken)).status).toBe(204)

    // Secrets where they do not belong: a query string, an unknown route, a body that is not JSON,
    // and a request line HTTP itself refuses (answered before any route).
    kept(await d.call('GET', `/me?access_token=${encodeURIComponent(d.tokens.accessToken)}`))
    const unknownRoute = kept(await d.call('GET', `/nowhere?token=${encodeURIComponent(d.tokens.accessToken)}`))
    expect(unknownRoute.status).toBe(404)
    const res = await fetch(`${app.url}/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json', dpop: await proof('/auth/refresh') }, body: `{"refreshToken": ${d.tokens.refreshToken}}` })
    expect(res.status).toBe(400)
    errorBodies.push(await res.text())
    const badRequest = await rawHttp(app.url, `POST /auth/refresh HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${d.tokens.accessToken}\r\nContent-Length: nope\r\n\r\n{"refreshToken":"${d.tokens.refreshToken}"}`)
    expect(badRequest).toMatch(/^HTTP\/1.1 400/)
    errorBodies.push(badRequest)

    // The copied refresh token revokes the session.
    expect(kept(await d.withProof('/auth/refresh', { refreshToken: firstRefresh }, await proof('/auth/refresh'))).body.error).toBe('refresh_token_reused')
    ws.ws.close()
    await ws.closed

    for (const p of proofs) secrets.add(p)
    const users = app.db!.sublevel<string, { passwordHash: string }>('users', { valueEncoding: 'json' })
    const passwordHash = (await users.get(d.tokens.userId))!.passwordHash
    secrets.add(passwordHash)
    secrets.add(passwordHash.split('$').pop()!)

    const log = lines.join('')
    // The capture works: trace and debug lines and the failures are all in it.
    for (const msg of ['"msg":"request"', 'security: login_failed', 'security: refresh_reuse', 'upgrade refused', 'in-band reauth refused', 'client error']) expect(log).toContain(msg)
    const answers = errorBodies.join('\n')
    expect(errorBodies.length).toBeGreaterThan(8)
    for (const s of secrets) {
      expect(s.length).toBeGreaterThan(8)
      for (const [where, text] of [['log', log], ['error answer', answers]] as const) {
        expect(text.includes(s) ? `${where} holds ${s.slice(0, 12)}…` : 'clean').toBe('clean')
      }
    }
    expect(log).not.toContain('$argon2')
    // Nor do the raw bytes of a request HTTP refused (Node attaches them to the parse error).
    expect(log).toContain('"rawPacket":"[redacted]"')
    expect(log).not.toContain('"type":"Buffer"')
  })
})
