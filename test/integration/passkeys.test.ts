import { Writable } from 'node:stream'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../server/observe/logger.js'
import { totpCode } from '../../server/identity/mfa.js'
import { startServer } from '../helpers/server.js'
import { closeCode, secondDevice, signedInDevice, TestDevice, type Res } from '../helpers/identity.js'
import { SoftAuthenticator, type Bend, type SoftCredential } from '../helpers/webauthn.js'

type Server = Awaited<ReturnType<typeof startServer>>

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString())
const expectError = (res: Res, status: number, error: string) => {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error })
}
/** A call with the device's Bearer token and a DPoP proof by its own key. */
const bound = async (d: TestDevice, method: string, path: string, body: unknown, token = d.tokens.accessToken) =>
  d.call(method, path, body, { authorization: `Bearer ${token}`, dpop: await d.proof(method, path) })

/** Registers a passkey for `d`'s account on `authn`; returns the server's answer and the credential. */
const registerPasskey = async (d: TestDevice, authn: SoftAuthenticator, bend: Bend = {}, name?: string) => {
  const options = await d.api('POST', '/auth/passkeys/register/options')
  expect(options.status).toBe(200)
  const response = authn.register(options.body, bend)
  const res = await bound(d, 'POST', '/auth/passkeys/register', { response, ...(name ? { name } : {}) })
  return { res, credential: authn.credentials.find(c => c.id === response.id) ?? bend.again, options: options.body, response }
}

/** Signs in on a new device with a passkey of `authn`. */
const passkeyLogin = async (url: string, authn: SoftAuthenticator, opts: { credential?: SoftCredential, bend?: Bend, name?: string } = {}) => {
  const device = await TestDevice.create(url, 'unknown@example.com', opts.name ?? 'passkey device')
  const begin = await device.call('POST', '/auth/passkeys/login/options')
  expect(begin.status).toBe(200)
  const response = authn.assert(begin.body.options, opts.credential, opts.bend)
  const res = await device.withProof('/auth/passkeys/login', { attemptId: begin.body.attemptId, response, device: { name: device.name, platform: 'node' } })
  if (res.status === 200) device.tokens = res.body
  return { device, res, begin: begin.body, response }
}

describe('passkeys', () => {
  let app: Server
  beforeAll(async () => { app = await startServer({ insecureNoAuth: false }) })
  afterAll(() => app.close())
  afterEach(() => { vi.useRealTimers() })

  it('registers from a signed-in device, then signs in on a new device with no email typed', async () => {
    const laptop = await signedInDevice(app.url, undefined, 'laptop')
    const authn = new SoftAuthenticator(app.url)
    const { res, options } = await registerPasskey(laptop, authn, {}, 'My phone')
    expect(options).toMatchObject({
      rp: { id: '127.0.0.1', name: 'Session Sync' }, user: { name: laptop.email }, attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' }
    })
    expect(res.status).toBe(201)
    expect(res.body).toEqual({ id: authn.credentials[0]!.id, name: 'My phone', createdAt: expect.any(Number), deviceType: 'singleDevice', backedUp: false })
    expect((await laptop.api('GET', '/auth/passkeys')).body.passkeys).toEqual([res.body])

    const { device, res: login, begin } = await passkeyLogin(app.url, authn, { name: 'tablet' })
    expect(begin.options).toMatchObject({ rpId: '127.0.0.1', userVerification: 'required' })
    expect(begin.options.allowCredentials ?? []).toEqual([])
    expect(login.status).toBe(200)
    expect(login.headers.get('cache-control')).toBe('no-store')
    expect(login.body.userId).toBe(laptop.tokens.userId)
    const c = claims(login.body.accessToken)
    expect(c.amr).toEqual(['hwk'])
    expect(c.mfa_time).toEqual(expect.any(Number))
    // A DPoP-bound device session like a password login: on the dashboard, refreshable with its key only.
    const sessions = (await laptop.api('GET', '/sessions')).body.sessions
    expect(sessions.map((s: { deviceName: string }) => s.deviceName).sort()).toEqual(['laptop', 'tablet'])
    expectError(await device.refresh(device.tokens.refreshToken, await device.proof('POST', '/auth/refresh', { key: laptop.key })), 401, 'invalid_dpop_proof')
    expect((await device.refresh()).status).toBe(200)
    expect((await laptop.api('GET', '/auth/passkeys')).body.passkeys[0].lastUsedAt).toEqual(expect.any(Number))
  })

  it('registration needs a DPoP proof by the session’s own key and this session’s challenge', async () => {
    const d = await signedInDevice(app.url)
    const authn = new SoftAuthenticator(app.url)
    const options = (await d.api('POST', '/auth/passkeys/register/options')).body
    const response = authn.register(options)
    expectError(await d.api('POST', '/auth/passkeys/register', { response }), 401, 'invalid_dpop_proof')
    const foreign = await TestDevice.create(app.url, 'x@example.com')
    expectError(await d.call('POST', '/auth/passkeys/register', { response }, { authorization: `Bearer ${d.tokens.accessToken}`, dpop: await d.proof('POST', '/auth/passkeys/register', { key: foreign.key }) }), 401, 'invalid_dpop_proof')
    // Another session of the same account cannot complete this session's ceremony.
    const other = await secondDevice(d)
    expectError(await bound(other, 'POST', '/auth/passkeys/register', { response }), 401, 'passkey_challenge_invalid')
    // Refused before the challenge was looked at: it is still open for `d`'s session.
    expect((await bound(d, 'POST', '/auth/passkeys/register', { response })).status).toBe(201)
  })

  it('refuses a response for another origin or RP ID, with its own code', async () => {
    const d = await signedInDevice(app.url)
    const authn = new SoftAuthenticator(app.url)
    expectError((await registerPasskey(d, authn, { origin: 'https://evil.example' })).res, 401, 'passkey_origin_mismatch')
    expectError((await registerPasskey(d, authn, { rpId: 'evil.example' })).res, 401, 'passkey_rp_id_mismatch')
    expect((await registerPasskey(d, authn)).res.status).toBe(201)
    const good = authn.credentials.at(-1)!
    expectError((await passkeyLogin(app.url, authn, { credential: good, bend: { origin: 'http://127.0.0.1.evil.example' } })).res, 401, 'passkey_origin_mismatch')
    expectError((await passkeyLogin(app.url, authn, { credential: good, bend: { rpId: 'evil.example' } })).res, 401, 'passkey_rp_id_mismatch')
    expectError((await passkeyLogin(app.url, authn, { credential: good, bend: { type: 'webauthn.create' } })).res, 401, 'passkey_invalid')
    expect((await passkeyLogin(app.url, authn, { credential: good })).res.status).toBe(200)
  })

  it('a challenge works once, for its own attempt, for five minutes', async () => {
    const d = await signedInDevice(app.url)
    const authn = new SoftAuthenticator(app.url)
    await registerPasskey(d, authn)
    const { device, res, begin, response } = await passkeyLogin(app.url, authn)
    expect(res.status).toBe(200)
    // Replayed: the same response again.
    expectError(await device.withProof('/auth/passkeys/login', { attemptId: begin.attemptId, response, device: { name: 'x', platform: 'node' } }), 401, 'passkey_challenge_invalid')
    // Another attempt's challenge.
    const a = (await device.call('POST', '/auth/passkeys/login/options')).body
    const b = (await device.call('POST', '/auth/passkeys/login/options')).body
    const forA = authn.assert(a.options)
    expectError(await device.withProof('/auth/passkeys/login', { attemptId: b.attemptId, response: forA, device: { name: 'x', platform: 'node' } }), 401, 'passkey_challenge_invalid')
    // Unknown attempt.
    expectError(await device.withProof('/auth/passkeys/login', { attemptId: 'no-such-attempt', response: authn.assert(a.options), device: { name: 'x', platform: 'node' } }), 401, 'passkey_challenge_invalid')
    // Expired.
    vi.useFakeTimers({ toFake: ['Date'] })
    const late = (await device.call('POST', '/auth/passkeys/login/options')).body
    vi.setSystemTime(Date.now() + 5 * 60_000)
    expectError(await device.withProof('/auth/passkeys/login', { attemptId: late.attemptId, response: authn.assert(late.options), device: { name: 'x', platform: 'node' } }), 401, 'passkey_challenge_invalid')
  })

  it('refuses an unknown credential, one of another account, a removed one, and bad signatures or flags', async () => {
    const alice = await signedInDevice(app.url)
    const bob = await signedInDevice(app.url)
    const aliceKeys = new SoftAuthenticator(app.url)
    const bobKeys = new SoftAuthenticator(app.url)
    const { credential: aliceCred } = await registerPasskey(alice, aliceKeys)
    const { credential: bobCred } = await registerPasskey(bob, bobKeys)

    // Never registered here: made on the authenticator, never sent to the server.
    const stray = new SoftAuthenticator(app.url)
    stray.register({ challenge: 'x', rp: { id: '127.0.0.1' }, user: { id: Buffer.from(alice.tokens.userId).toString('base64url') } })
    expectError((await passkeyLogin(app.url, stray)).res, 401, 'passkey_unknown')

    // Bob's credential with a user handle naming Alice.
    expectError((await passkeyLogin(app.url, bobKeys, { credential: bobCred, bend: { userHandle: aliceCred!.userHandle } })).res, 401, 'passkey_wrong_user')
    // Bob's passkey to step up Alice's session.
    const opts = (await alice.api('POST', '/auth/passkeys/step-up/options')).body
    expectError(await alice.api('POST', '/auth/passkeys/step-up', { response: bobKeys.assert({ ...opts, allowCredentials: [] }, bobCred) }), 401, 'passkey_wrong_user')

    // No user verification; a signature by another key; a counter that went backwards.
    expectError((await passkeyLogin(app.url, aliceKeys, { bend: { uv: false } })).res, 401, 'passkey_invalid')
    expectError((await passkeyLogin(app.url, aliceKeys, { bend: { signWith: bobCred } })).res, 401, 'passkey_invalid')
    expect((await passkeyLogin(app.url, aliceKeys, { bend: { counter: 10 } })).res.status).toBe(200)
    expectError((await passkeyLogin(app.url, aliceKeys, { bend: { counter: 10 } })).res, 401, 'passkey_invalid')
    expectError((await passkeyLogin(app.url, aliceKeys, { bend: { counter: 3 } })).res, 401, 'passkey_invalid')
    expect((await passkeyLogin(app.url, aliceKeys, { bend: { counter: 11 } })).res.status).toBe(200)

    // Removed: it can sign in no more.
    expect((await alice.api('DELETE', `/auth/passkeys/${encodeURIComponent(aliceCred!.id)}`)).status).toBe(204)
    expect((await alice.api('GET', '/auth/passkeys')).body.passkeys).toEqual([])
    expectError((await passkeyLogin(app.url, aliceKeys, { credential: aliceCred })).res, 401, 'passkey_unknown')
  })

  it('the same credential cannot be registered twice', async () => {
    const alice = await signedInDevice(app.url)
    const bob = await signedInDevice(app.url)
    const authn = new SoftAuthenticator(app.url)
    const { credential } = await registerPasskey(alice, authn)
    expectError((await registerPasskey(alice, authn, { again: credential })).res, 409, 'passkey_exists')
    expectError((await registerPasskey(bob, authn, { again: credential })).res, 409, 'passkey_exists')
  })

  it('lists, renames and removes only the account’s own passkeys', async () => {
    const alice = await signedInDevice(app.url)
    const bob = await signedInDevice(app.url)
    const authn = new SoftAuthenticator(app.url)
    const first = (await registerPasskey(alice, authn, {}, 'Laptop')).res.body
    const second = (await registerPasskey(alice, authn)).res.body
    expect(second.name).toBe('Passkey') // no name given, no browser in the user agent
    const renamed = await alice.api('PATCH', `/auth/passkeys/${encodeURIComponent(second.id)}`, { name: 'YubiKey' })
    expect(renamed.body).toMatchObject({ id: second.id, name: 'YubiKey' })
    expect((await alice.api('GET', '/auth/passkeys')).body.passkeys.map((p: { name: string }) => p.name)).toEqual(['Laptop', 'YubiKey'])
    expectError(await bob.api('PATCH', `/auth/passkeys/${encodeURIComponent(first.id)}`, { name: 'mine now' }), 404, 'not_found')
    expectError(await bob.api('DELETE', `/auth/passkeys/${encodeURIComponent(first.id)}`), 404, 'not_found')
    expectError(await alice.api('PATCH', `/auth/passkeys/${encodeURIComponent(first.id)}`, { name: '' }), 400, 'invalid_request')
    expect((await bob.api('GET', '/auth/passkeys')).body.passkeys).toEqual([])
  })

  it('with MFA on, a passkey signs in without a TOTP code and satisfies step-up; adding and removing one need step-up', async () => {
    const d = await signedInDevice(app.url)
    const authn = new SoftAuthenticator(app.url)
    await registerPasskey(d, authn)
    const enroll = await d.api('POST', '/auth/mfa/enroll')
    expect((await d.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) })).status).toBe(200)
    const { device: tablet, res } = await passkeyLogin(app.url, authn, { name: 'tablet' })
    expect(res.status).toBe(200)

    // A session signed in with a password and TOTP long ago: step-up needed.
    const phone = await TestDevice.create(app.url, d.email, 'phone')
    const challenge = (await phone.login()).body.mfaToken
    phone.tokens = (await phone.withProof('/auth/mfa/verify', { mfaToken: challenge, code: totpCode(enroll.body.secret, 1) })).body
    const stale = d.tokens.accessToken
    expectError(await d.api('POST', '/sessions/revoke-others', undefined, stale), 403, 'step_up_required')
    expectError(await d.api('POST', '/auth/passkeys/register/options', undefined, stale), 403, 'step_up_required')
    const [passkey] = (await d.api('GET', '/auth/passkeys', undefined, stale)).body.passkeys
    expectError(await d.api('DELETE', `/auth/passkeys/${encodeURIComponent(passkey.id)}`, undefined, stale), 403, 'step_up_required')

    const options = await d.api('POST', '/auth/passkeys/step-up/options', undefined, stale)
    expect(options.body.allowCredentials.map((c: { id: string }) => c.id)).toEqual([passkey.id])
    const up = await d.api('POST', '/auth/passkeys/step-up', { response: authn.assert(options.body) }, stale)
    expect(up.status).toBe(200)
    const c = claims(up.body.accessToken)
    expect(c.amr).toContain('hwk')
    expect(c.mfa_time).toEqual(expect.any(Number))
    const phoneClosed = closeCode(await phone.socket(phone.tokens.sessionDoc))
    const revoked = await d.api('POST', '/sessions/revoke-others', undefined, up.body.accessToken)
    expect(revoked.body.revoked).toBe(2)
    expect(await phoneClosed).toBe(4403)
    expectError(await tablet.refresh(), 401, 'session_ended')
    expect((await d.api('DELETE', `/auth/passkeys/${encodeURIComponent(passkey.id)}`, undefined, up.body.accessToken)).status).toBe(204)
  })

  it('step-up with a passkey needs one registered, and the step-up challenge is this session’s', async () => {
    const d = await signedInDevice(app.url)
    expectError(await d.api('POST', '/auth/passkeys/step-up/options'), 401, 'passkey_unknown')
    const authn = new SoftAuthenticator(app.url)
    await registerPasskey(d, authn)
    const other = await secondDevice(d)
    const options = (await d.api('POST', '/auth/passkeys/step-up/options')).body
    expectError(await other.api('POST', '/auth/passkeys/step-up', { response: authn.assert(options) }), 401, 'passkey_challenge_invalid')
  })

  it('refuses malformed responses at the edge', async () => {
    const d = await signedInDevice(app.url)
    const device = await TestDevice.create(app.url, 'x@example.com')
    const begin = (await device.call('POST', '/auth/passkeys/login/options')).body
    const deviceInfo = { name: 'x', platform: 'node' }
    for (const response of [
      {},
      { id: 'a', rawId: 'a', type: 'password', response: { clientDataJSON: 'a', authenticatorData: 'a', signature: 'a' } },
      { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'a' } },
      { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'a'.repeat(5000), authenticatorData: 'a', signature: 'a' } }
    ]) {
      expectError(await device.withProof('/auth/passkeys/login', { attemptId: begin.attemptId, response, device: deviceInfo }), 400, 'invalid_request')
    }
    // Well-formed JSON that is not WebAuthn: refused with a code, never a 500.
    const junk = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'bm90IGpzb24', authenticatorData: '!!', signature: 'AAAA' } }
    expectError(await device.withProof('/auth/passkeys/login', { attemptId: begin.attemptId, response: junk, device: deviceInfo }), 401, 'passkey_invalid')
    const options = (await d.api('POST', '/auth/passkeys/register/options')).body
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: app.url })).toString('base64url')
    expectError(await bound(d, 'POST', '/auth/passkeys/register', { response: { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON, attestationObject: 'AAAA' } } }), 401, 'passkey_invalid')
  })
})

describe('passkeys: failures are counted and logged', () => {
  it('refused passkeys spend the IP’s failed-attempt budget and are security events; nothing secret is logged', async () => {
    const lines: string[] = []
    const sink = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
    const app = await startServer({ insecureNoAuth: false, logLevel: 'trace', loginAttemptsPerIp: 3 }, { logger: createLogger('trace', sink) })
    try {
      const d = await signedInDevice(app.url)
      const authn = new SoftAuthenticator(app.url)
      const { res } = await registerPasskey(d, authn)
      expect(res.status).toBe(201)
      for (let i = 0; i < 3; i++) expectError((await passkeyLogin(app.url, authn, { bend: { origin: 'https://evil.example' } })).res, 401, 'passkey_origin_mismatch')
      const limited = (await passkeyLogin(app.url, authn)).res
      expectError(limited, 429, 'rate_limited')
      const events = lines.map(l => JSON.parse(l)).filter(l => l.event === 'security')
      expect(events.filter(e => e.kind === 'passkey_failed').map(e => e.reason)).toEqual(['passkey_origin_mismatch', 'passkey_origin_mismatch', 'passkey_origin_mismatch'])
      expect(events.find(e => e.kind === 'passkey_added')).toMatchObject({ userId: d.tokens.userId, sessionId: d.tokens.sessionId })
      const log = lines.join('')
      expect(log).not.toContain(d.tokens.accessToken)
      expect(log).not.toContain(authn.credentials[0]!.id)
    } finally {
      await app.close()
    }
  })
})
