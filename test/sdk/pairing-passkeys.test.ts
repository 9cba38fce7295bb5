import { afterEach, describe, expect, it, vi } from 'vitest'
import type { DeviceCodeResponse, WebAuthnJson } from '../../shared/api.js'
import { ApiRequestError, type PasskeyAuthenticator } from '../../client/index.js'
import { totpCode } from '../../server/identity/mfa.js'
import { SoftAuthenticator } from '../helpers/webauthn.js'
import { fixture, identityServer } from './helpers.js'

// The SDK's pairing and passkey methods against a real server: the Node client runs the TV side of
// pairing (asks for a code, polls at the server's interval), another client approves; passkeys go
// through the same software authenticator the server tests use, as a PasskeyAuthenticator.

const f = fixture()
afterEach(async () => {
  vi.useRealTimers()
  await f.cleanup()
})

const softPasskeys = (authn: SoftAuthenticator): PasskeyAuthenticator => ({
  create: async (options) => authn.register(options as never) as WebAuthnJson,
  get: async (options) => authn.assert(options as never) as WebAuthnJson
})

/** Resolves with each code the pairing device shows, in order. */
const codeFeed = () => {
  const waiting: Array<(c: DeviceCodeResponse) => void> = []
  const shown: DeviceCodeResponse[] = []
  return {
    onCode: (c: DeviceCodeResponse) => { shown.push(c); waiting.shift()?.(c) },
    next: (): Promise<DeviceCodeResponse> => new Promise(resolve => waiting.push(resolve)),
    shown
  }
}

describe('sdk: pairing a device by code', () => {
  it('a Node client pairs as a TV; the approving device sees what asks; both share the session state', async () => {
    const s = await identityServer(f)
    const phone = await f.signedIn(s, { device: { name: 'phone', platform: 'ios' } })
    const tv = await f.client(s, { device: { name: 'Living room TV', platform: 'tv' } })
    const feed = codeFeed()
    const first = feed.next()
    const paired = tv.pairDevice({ onCode: feed.onCode })
    const code = await first
    expect(code.user_code).toMatch(/^[B-Z]{4}-[B-Z]{4}$/)
    const info = await phone.lookupPairing(code.user_code.toLowerCase())
    expect(info).toMatchObject({ device: { name: 'Living room TV', platform: 'tv' }, sameNetwork: true })
    await phone.approvePairing(code.user_code)
    const tokens = await paired
    expect(tv.signedIn).toBe(true)
    expect(tokens.userId).toBe(phone.userId)
    expect((await phone.api.listSessions()).sessions.map(x => x.deviceName).sort()).toEqual(['Living room TV', 'phone'])

    // Continue watching on the TV: the phone's playback position arrives over the session document.
    const onPhone = await phone.openSessionState()
    onPhone.state.setPlayback('movie-42', 754)
    const onTv = await tv.openSessionState()
    await new Promise<void>(resolve => {
      const check = () => { if (onTv.state.getPlayback('movie-42')?.seconds === 754) { onTv.handle.doc.off('update', check); resolve() } }
      onTv.handle.doc.on('update', check)
      check()
    })
  }, 30_000)

  it('renews an expired code when asked to, and fails with access_denied when the request is denied', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const s = await identityServer(f, { deviceCodeTtlMs: 60_000 })
    const phone = await f.signedIn(s)
    const tv = await f.client(s, { device: { name: 'TV', platform: 'tv' } })
    const feed = codeFeed()
    const first = feed.next()
    const second = feed.next()
    const paired = tv.pairDevice({ onCode: feed.onCode, renew: true })
    const expired = await first
    vi.setSystemTime(Date.now() + 60_000)
    const renewed = await second
    expect(renewed.user_code).not.toBe(expired.user_code)
    await phone.denyPairing(renewed.user_code)
    const err = await paired.catch(e => e)
    expect(err).toBeInstanceOf(ApiRequestError)
    expect(err.code).toBe('access_denied')
    expect(tv.signedIn).toBe(false)
  }, 30_000)

  it('stops polling when its signal aborts', async () => {
    const s = await identityServer(f)
    const tv = await f.client(s)
    const ac = new AbortController()
    const feed = codeFeed()
    const first = feed.next()
    const paired = tv.pairDevice({ onCode: feed.onCode, signal: ac.signal })
    await first
    ac.abort(new Error('left the page'))
    await expect(paired).rejects.toThrow('left the page')
    expect(feed.shown).toHaveLength(1)
  })
})

describe('sdk: passkeys', () => {
  it('registers, signs in on another device with no email, steps up, approves a pairing, lists and removes', async () => {
    const s = await identityServer(f)
    const authn = new SoftAuthenticator(s.url)
    const laptop = await f.signedIn(s, { passkeys: softPasskeys(authn) })
    const info = await laptop.registerPasskey('Laptop')
    expect(info.name).toBe('Laptop')
    const tablet = await f.client(s, { device: { name: 'tablet', platform: 'web' }, passkeys: softPasskeys(authn) })
    const tokens = await tablet.loginWithPasskey()
    expect(tablet.signedIn).toBe(true)
    expect(tokens.userId).toBe(laptop.userId)

    // MFA on: approving a device needs a fresh second factor. The laptop's token predates it; a
    // passkey provides it.
    const enroll = await laptop.api.enrollMfa()
    await laptop.api.confirmMfa(totpCode(enroll.secret))
    const tv = await f.client(s, { device: { name: 'TV', platform: 'tv' } })
    const feed = codeFeed()
    const first = feed.next()
    const paired = tv.pairDevice({ onCode: feed.onCode })
    const code = await first
    const refused = await laptop.approvePairing(code.user_code).catch(e => e)
    expect(refused).toMatchObject({ code: 'step_up_required', status: 403 })
    await laptop.stepUpWithPasskey()
    await laptop.approvePairing(code.user_code)
    await paired
    expect(tv.signedIn).toBe(true)

    expect((await tablet.api.listPasskeys()).passkeys.map(p => p.name)).toEqual(['Laptop'])
    await tablet.api.renamePasskey(info.id, 'Old laptop')
    await tablet.api.removePasskey(info.id)
    expect((await laptop.api.listPasskeys()).passkeys).toEqual([])
    const again = await f.client(s, { passkeys: softPasskeys(authn) })
    await expect(again.loginWithPasskey()).rejects.toMatchObject({ code: 'passkey_unknown' })
  }, 30_000)

  it('without an authenticator the passkey methods say so', async () => {
    const s = await identityServer(f)
    const c = await f.client(s)
    await expect(c.loginWithPasskey()).rejects.toThrow(/no passkey authenticator/)
  })
})
