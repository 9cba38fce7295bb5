import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { totpCode } from '../../server/identity/mfa.js'
import { startIdentityServer, signedInDevice, secondDevice, closeCode, TestDevice, PASSWORD } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>

/** Enrolls and confirms TOTP; returns the secret and recovery codes. Uses the current step. */
const enableMfa = async (d: TestDevice) => {
  const enroll = await d.api('POST', '/auth/mfa/enroll')
  expect(enroll.status).toBe(200)
  expect(enroll.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/.+secret=/)
  const wrong = await d.api('POST', '/auth/mfa/confirm', { code: '000000' === totpCode(enroll.body.secret) ? '111111' : '000000' })
  expect(wrong.body.error).toBe('invalid_mfa_code')
  const confirm = await d.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) })
  expect(confirm.status).toBe(200)
  expect(confirm.body.recoveryCodes).toHaveLength(10)
  return { secret: enroll.body.secret as string, recovery: confirm.body.recoveryCodes as string[] }
}

describe('MFA: TOTP, recovery codes, step-up', () => {
  let app: Server
  beforeAll(async () => { app = await startIdentityServer() })
  afterAll(() => app.close())

  it('with MFA on, login needs the second factor; the challenge is device-bound and single use', async () => {
    const d = await signedInDevice(app.url)
    expect((await d.api('GET', '/me')).body).toMatchObject({ email: d.email, mfaEnabled: false, sessionId: d.tokens.sessionId })
    const { secret } = await enableMfa(d)
    expect((await d.api('GET', '/me')).body.mfaEnabled).toBe(true)
    const phone = await TestDevice.create(app.url, d.email, 'phone')
    const first = await phone.login()
    expect(first.status).toBe(200)
    expect(first.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String) })
    expect(first.body.accessToken).toBeUndefined()
    const mfaToken = first.body.mfaToken
    // Wrong code, then the challenge from another device key, then the right code.
    expect((await phone.withProof('/auth/mfa/verify', { mfaToken, code: '123' })).status).toBe(400)
    expect((await phone.withProof('/auth/mfa/verify', { mfaToken, code: '12345x' })).body.error).toBe('invalid_mfa_code')
    const wrong = await phone.withProof('/auth/mfa/verify', { mfaToken, code: totpCode(secret, 5) })
    expect(wrong.body.error).toBe('invalid_mfa_code')
    const thief = await TestDevice.create(app.url, d.email, 'thief')
    expect((await thief.withProof('/auth/mfa/verify', { mfaToken, code: totpCode(secret, 1) })).body.error).toBe('invalid_dpop_proof')
    const ok = await phone.withProof('/auth/mfa/verify', { mfaToken, code: totpCode(secret, 1) })
    expect(ok.status).toBe(200)
    expect(ok.body.accessToken).toEqual(expect.any(String))
    const amr = JSON.parse(Buffer.from(ok.body.accessToken.split('.')[1], 'base64url').toString()).amr
    expect(amr).toEqual(['pwd', 'otp'])
    // The same code (time step) is never accepted twice, and the challenge is spent.
    const again = await phone.withProof('/auth/mfa/verify', { mfaToken, code: totpCode(secret, 1) })
    expect(again.status).toBe(401)
  })

  it('a recovery code works once', async () => {
    const d = await signedInDevice(app.url)
    const { recovery } = await enableMfa(d)
    const tablet = await TestDevice.create(app.url, d.email, 'tablet')
    const c1 = (await tablet.login()).body.mfaToken
    expect((await tablet.withProof('/auth/mfa/verify', { mfaToken: c1, code: recovery[0] })).status).toBe(200)
    const laptop = await TestDevice.create(app.url, d.email, 'laptop')
    const c2 = (await laptop.login()).body.mfaToken
    const reused = await laptop.withProof('/auth/mfa/verify', { mfaToken: c2, code: recovery[0] })
    expect(reused.body.error).toBe('invalid_mfa_code')
    expect((await laptop.withProof('/auth/mfa/verify', { mfaToken: c2, code: recovery[1] })).status).toBe(200)
  })

  it('sensitive actions need a fresh second factor: 403 step_up_required, then allowed after /auth/step-up', async () => {
    const d = await signedInDevice(app.url)
    const phone = await secondDevice(d, 'phone')
    // The access token `d` holds was minted before MFA existed: no otp in its amr.
    const staleToken = d.tokens.accessToken
    const { secret } = await enableMfa(d)
    for (const [method, path, body] of [['POST', '/sessions/revoke-others', undefined], ['POST', '/auth/mfa/disable', undefined], ['POST', '/auth/password', { current: PASSWORD, next: 'another long passphrase' }]] as const) {
      const r = await d.api(method, path, body, staleToken)
      expect(r.status).toBe(403)
      expect(r.body.error).toBe('step_up_required')
    }
    const wrong = await d.api('POST', '/auth/step-up', { code: '000001' })
    expect(wrong.status).toBe(401)
    const up = await d.api('POST', '/auth/step-up', { code: totpCode(secret, 1) })
    expect(up.status).toBe(200)
    const phoneWs = await phone.socket(phone.tokens.sessionDoc)
    const phoneClosed = closeCode(phoneWs)
    const revoke = await d.api('POST', '/sessions/revoke-others', undefined, up.body.accessToken)
    expect(revoke.status).toBe(200)
    expect(revoke.body.revoked).toBe(1)
    expect(await phoneClosed).toBe(4403)
  })

  it('password change (after step-up) revokes every other session and the new password works', async () => {
    const d = await signedInDevice(app.url)
    const other = await secondDevice(d)
    const ws = await other.socket(other.tokens.sessionDoc)
    const closed = closeCode(ws)
    const wrongCurrent = await d.api('POST', '/auth/password', { current: 'not my password', next: 'a brand new passphrase' })
    expect(wrongCurrent.body.error).toBe('invalid_credentials')
    const weak = await d.api('POST', '/auth/password', { current: PASSWORD, next: 'short' })
    expect(weak.body.error).toBe('weak_password')
    expect((await d.api('POST', '/auth/password', { current: PASSWORD, next: 'a brand new passphrase' })).status).toBe(204)
    expect(await closed).toBe(4403)
    expect((await other.refresh()).body.error).toBe('session_ended')
    expect((await d.api('GET', '/sessions')).status).toBe(200)
    const fresh = await TestDevice.create(app.url, d.email)
    expect((await fresh.login()).status).toBe(401)
    expect((await fresh.login('a brand new passphrase')).status).toBe(200)
  })

  it('disabling MFA needs step-up; afterwards login is password-only again', async () => {
    const d = await signedInDevice(app.url)
    const { secret } = await enableMfa(d)
    const phone = await TestDevice.create(app.url, d.email, 'phone')
    const challenge = (await phone.login()).body.mfaToken
    phone.tokens = (await phone.withProof('/auth/mfa/verify', { mfaToken: challenge, code: totpCode(secret, 1) })).body
    expect((await phone.api('POST', '/auth/mfa/disable')).status).toBe(204)
    const next = await TestDevice.create(app.url, d.email)
    expect((await next.login()).body.accessToken).toEqual(expect.any(String))
  })
})
