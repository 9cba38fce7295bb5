import { createHash, randomUUID } from 'node:crypto'
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import type { isoBase64URL } from '@simplewebauthn/server/helpers'
import type { DeviceInfo, ErrorCodeValue, PasskeyInfo, PasskeyLoginOptionsResponse, StepUpResponse, TokenResponse, WebAuthnJson } from '../../shared/api.js'
import { ErrorCode } from '../../shared/api.js'
import type { ServerConfig } from '../config.js'
import { Failure } from '../errors.js'
import type { PasskeyRecord, SessionStore, UserRecord } from '../storage/session-store.js'
import type { Authed, Identity, RequestContext } from './identity.js'
import type { ChallengeStore } from '../cluster/challenge-store.js'
import { MemoryChallengeStore } from '../cluster/memory-challenge-store.js'

/** A challenge is good for this long, and for one response. */
export const CHALLENGE_TTL_MS = 5 * 60_000
/** The amr of a passkey with user verification (RFC 8176: proof of possession of a hardware-secured key). */
export const PASSKEY_AMR = 'hwk'

/**
 * `@simplewebauthn/server` is loaded with the first passkey request: it and its crypto dependencies
 * hold some 25 MB of memory, which a server whose users never use passkeys need not pay.
 */
let library: Promise<typeof import('@simplewebauthn/server') & typeof import('@simplewebauthn/server/helpers')> | null = null
const webauthn = () => library ??= Promise.all([import('@simplewebauthn/server'), import('@simplewebauthn/server/helpers')])
  .then(([server, helpers]) => ({ ...server, ...helpers }))

type Bytes = ReturnType<typeof isoBase64URL.toBuffer>
/** Refuses a passkey response with `code`: counts the failure, logs it, throws. */
type Refuse = (code: ErrorCodeValue, message: string) => Promise<never>

const toInfo = (p: PasskeyRecord): PasskeyInfo => ({
  id: p.id, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt, deviceType: p.deviceType, backedUp: p.backedUp
})

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Passkeys (WebAuthn) with `@simplewebauthn/server`: registration from a signed-in session, sign-in
 * with a discoverable credential (no email typed), and step-up. User verification is always required,
 * so every passkey use is two factors (`amr` `hwk`). The relying party is `--rp-id` (default: the
 * host of `--public-url`, else of the request) and responses must come from the public origin or one
 * of `--cors-origins`.
 *
 * The origin, RP ID, challenge, credential and account are checked here first, each with its own
 * error code; the library then checks the attestation or signature, flags and counter.
 */
export class Passkeys {
  constructor (
    private readonly store: SessionStore,
    private readonly identity: Identity,
    private readonly config: ServerConfig,
    /** Single-use WebAuthn challenges, each bound to what asked for it: a session (`register:<sid>`,
     * `step-up:<sid>`) or a sign-in attempt (`login:<attemptId>`, at most a few open per IP). */
    private readonly challenges: ChallengeStore = new MemoryChallengeStore()
  ) {}

  /** The RP ID and the origins a response may come from, for this request. */
  private rp (ctx: RequestContext): { rpID: string, origins: string[] } {
    const origin = new URL(ctx.url).origin
    const cors = this.config.corsOrigins.split(',').map(o => o.trim().replace(/\/+$/, '')).filter(Boolean)
    return { rpID: this.config.rpId || new URL(origin).hostname, origins: [origin, ...cors] }
  }

  async list (a: Authed): Promise<PasskeyInfo[]> {
    return (await this.store.passkeysOfUser(a.user.id)).sort((x, y) => x.createdAt - y.createdAt).map(toInfo)
  }

  /** Options for `navigator.credentials.create`, bound to this session. With MFA on, needs step-up. */
  async registrationOptions (a: Authed, ctx: RequestContext): Promise<WebAuthnJson> {
    const { generateRegistrationOptions } = await webauthn()
    this.identity.requireStepUp(a)
    const { rpID } = this.rp(ctx)
    const existing = await this.store.passkeysOfUser(a.user.id)
    const options = await generateRegistrationOptions({
      rpName: this.config.rpName, rpID, userName: a.user.email, userDisplayName: a.user.email,
      userID: new TextEncoder().encode(a.user.id), attestationType: 'none', timeout: CHALLENGE_TTL_MS,
      excludeCredentials: existing.map(p => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' }
    })
    await this.challenges.issue(`register:${a.session.id}`, options.challenge, CHALLENGE_TTL_MS)
    return options as unknown as WebAuthnJson
  }

  /** Checks the attestation against this session's challenge and stores the passkey. */
  async register (a: Authed, response: WebAuthnJson, name: string | undefined, ctx: RequestContext): Promise<PasskeyInfo> {
    const { verifyRegistrationResponse, decodeAttestationObject, isoBase64URL } = await webauthn()
    this.identity.requireStepUp(a)
    const expected = await this.challenges.take(`register:${a.session.id}`)
    const rp = this.rp(ctx)
    const res = response as unknown as RegistrationResponseJSON
    const fail: Refuse = (code, message) => this.refuse(a.user, code, message, ctx)
    await this.checkClientData(res.response?.clientDataJSON, 'webauthn.create', expected, rp, fail)
    let authData: Bytes
    try {
      authData = decodeAttestationObject(isoBase64URL.toBuffer(res.response.attestationObject)).get('authData')
    } catch {
      return fail(ErrorCode.passkeyInvalid, 'the attestation object is not valid CBOR')
    }
    await this.checkRpId(authData, rp.rpID, fail)
    let verified
    try {
      verified = await verifyRegistrationResponse({ response: res, expectedChallenge: expected!, expectedOrigin: rp.origins, expectedRPID: rp.rpID, requireUserVerification: true })
    } catch {
      return fail(ErrorCode.passkeyInvalid, 'the passkey could not be verified (attestation, user verification or key)')
    }
    if (!verified.verified) return fail(ErrorCode.passkeyInvalid, 'the passkey could not be verified')
    const info = verified.registrationInfo
    const record: PasskeyRecord = {
      id: info.credential.id, userId: a.user.id, publicKey: isoBase64URL.fromBuffer(info.credential.publicKey), counter: info.credential.counter,
      transports: info.credential.transports?.slice(0, 8), name: (name?.trim() || defaultName(ctx.userAgent)).slice(0, 64),
      deviceType: info.credentialDeviceType, backedUp: info.credentialBackedUp, aaguid: info.aaguid, createdAt: Date.now()
    }
    if (!await this.store.createPasskey(record)) throw new Failure(ErrorCode.passkeyExists, 'this passkey is already registered')
    this.identity.event('passkey_added', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip, reason: record.deviceType })
    return toInfo(record)
  }

  /** Options for `navigator.credentials.get` with no allowed list (the authenticator offers its passkeys), bound to a new attempt. */
  async loginOptions (ctx: RequestContext): Promise<PasskeyLoginOptionsResponse> {
    const { generateAuthenticationOptions } = await webauthn()
    const { rpID } = this.rp(ctx)
    const options = await generateAuthenticationOptions({ rpID, userVerification: 'required', timeout: CHALLENGE_TTL_MS })
    const attemptId = randomUUID()
    await this.challenges.issue(`login:${attemptId}`, options.challenge, CHALLENGE_TTL_MS, ctx.ip)
    return { attemptId, options: options as unknown as WebAuthnJson }
  }

  /** Sign-in: the assertion of the attempt's challenge starts a device session bound to the request's DPoP key. */
  async login (attemptId: string, response: WebAuthnJson, device: DeviceInfo, ctx: RequestContext): Promise<TokenResponse> {
    await this.identity.guard({ ip: ctx.ip }, ctx)
    const jkt = await this.identity.proof(ctx)
    const expected = await this.challenges.take(`login:${attemptId}`)
    const { user } = await this.assert(response, expected, undefined, ctx)
    return this.identity.startSession(user, device, jkt, [PASSKEY_AMR], Date.now(), ctx)
  }

  /** Options for a step-up with one of this account's passkeys, bound to this session. */
  async stepUpOptions (a: Authed, ctx: RequestContext): Promise<WebAuthnJson> {
    const { generateAuthenticationOptions } = await webauthn()
    const mine = await this.store.passkeysOfUser(a.user.id)
    if (mine.length === 0) throw new Failure(ErrorCode.passkeyUnknown, 'this account has no passkey')
    const options = await generateAuthenticationOptions({
      rpID: this.rp(ctx).rpID, userVerification: 'required', timeout: CHALLENGE_TTL_MS,
      allowCredentials: mine.map(p => ({ id: p.id, transports: p.transports }))
    })
    await this.challenges.issue(`step-up:${a.session.id}`, options.challenge, CHALLENGE_TTL_MS)
    return options as unknown as WebAuthnJson
  }

  /** Step-up: a verified passkey of this account marks the session's second factor (`hwk`) as fresh. */
  async stepUp (a: Authed, response: WebAuthnJson, ctx: RequestContext): Promise<StepUpResponse> {
    await this.identity.guard({ account: a.user.email, ip: ctx.ip }, ctx)
    const expected = await this.challenges.take(`step-up:${a.session.id}`)
    await this.assert(response, expected, a.user, ctx)
    await this.identity.markSecondFactor(a.session, PASSKEY_AMR)
    return this.identity.steppedUp(a.session)
  }

  async rename (a: Authed, id: string, name: string): Promise<PasskeyInfo> {
    const p = await this.own(a, id)
    p.name = name.trim().slice(0, 64) || p.name
    await this.store.putPasskey(p)
    return toInfo(p)
  }

  /** Removes a passkey; with MFA on, needs step-up. It can never sign in or step up again. */
  async remove (a: Authed, id: string, ctx: RequestContext): Promise<void> {
    this.identity.requireStepUp(a)
    const p = await this.own(a, id)
    await this.store.deletePasskey(p)
    this.identity.event('passkey_removed', { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip })
  }

  private async own (a: Authed, id: string): Promise<PasskeyRecord> {
    const p = await this.store.passkeyById(id)
    if (!p || p.userId !== a.user.id) throw new Failure(ErrorCode.notFound, 'no such passkey')
    return p
  }

  /**
   * Verifies an assertion: client data (type, challenge, origin), RP ID, a known credential of the
   * right account (`of`, or the one the user handle names), then signature, user verification and
   * counter. Stores the new counter.
   */
  private async assert (response: WebAuthnJson, expected: string | undefined, of: UserRecord | undefined, ctx: RequestContext): Promise<{ passkey: PasskeyRecord, user: UserRecord }> {
    const { verifyAuthenticationResponse, isoBase64URL, parseAuthenticatorData } = await webauthn()
    const res = response as unknown as AuthenticationResponseJSON
    const rp = this.rp(ctx)
    let fail: Refuse = (code, message) => this.refuse(of, code, message, ctx)
    await this.checkClientData(res.response?.clientDataJSON, 'webauthn.get', expected, rp, fail)
    let authData: Bytes
    try { authData = isoBase64URL.toBuffer(res.response.authenticatorData) } catch { return fail(ErrorCode.passkeyInvalid, 'authenticator data is not base64url') }
    await this.checkRpId(authData, rp.rpID, fail)
    const passkey = typeof res.id === 'string' ? await this.store.passkeyById(res.id) : undefined
    if (!passkey) return fail(ErrorCode.passkeyUnknown, 'this passkey is not registered here (or was removed)')
    const user = await this.store.userById(passkey.userId)
    if (!user) return fail(ErrorCode.passkeyUnknown, 'this passkey belongs to no account')
    if (of && of.id !== user.id) return fail(ErrorCode.passkeyWrongUser, 'this passkey belongs to another account')
    fail = (code, message) => this.refuse(user, code, message, ctx)
    if (res.response.userHandle !== undefined && res.response.userHandle !== null) {
      let handle = ''
      try { handle = new TextDecoder().decode(isoBase64URL.toBuffer(res.response.userHandle)) } catch { /* refused below */ }
      if (handle !== user.id) return fail(ErrorCode.passkeyWrongUser, 'the user handle names another account than this passkey')
    }
    await this.identity.guard({ account: user.email, ip: ctx.ip }, ctx)
    let counter: number
    try { counter = parseAuthenticatorData(authData).counter } catch { return fail(ErrorCode.passkeyInvalid, 'authenticator data is malformed') }
    if ((counter > 0 || passkey.counter > 0) && counter <= passkey.counter) {
      return fail(ErrorCode.passkeyInvalid, 'the signature counter did not increase: this passkey may have been copied')
    }
    let verified
    try {
      verified = await verifyAuthenticationResponse({
        response: res, expectedChallenge: expected!, expectedOrigin: rp.origins, expectedRPID: rp.rpID, requireUserVerification: true,
        credential: { id: passkey.id, publicKey: isoBase64URL.toBuffer(passkey.publicKey), counter: passkey.counter, transports: passkey.transports }
      })
    } catch {
      return fail(ErrorCode.passkeyInvalid, 'the passkey response could not be verified (signature or user verification)')
    }
    if (!verified.verified) return fail(ErrorCode.passkeyInvalid, 'the passkey signature is not valid')
    Object.assign(passkey, { counter: verified.authenticationInfo.newCounter, backedUp: verified.authenticationInfo.credentialBackedUp, lastUsedAt: Date.now() })
    await this.store.putPasskey(passkey)
    return { passkey, user }
  }

  private async checkClientData (encoded: unknown, type: string, expected: string | undefined, rp: { origins: string[] }, fail: Refuse): Promise<void> {
    const { isoBase64URL } = await webauthn()
    let data: { type?: unknown, challenge?: unknown, origin?: unknown }
    try { data = JSON.parse(new TextDecoder().decode(isoBase64URL.toBuffer(String(encoded)))) } catch {
      return fail(ErrorCode.passkeyInvalid, 'clientDataJSON is not base64url JSON')
    }
    if (data?.type !== type) return fail(ErrorCode.passkeyInvalid, `clientDataJSON type must be ${type}`)
    if (expected === undefined || data.challenge !== expected) {
      return fail(ErrorCode.passkeyChallenge, 'the challenge is unknown, expired, already used, or belongs to another session or attempt: start again')
    }
    if (typeof data.origin !== 'string' || !rp.origins.includes(data.origin)) {
      return fail(ErrorCode.passkeyOrigin, 'the passkey response was made for another origin than this service')
    }
  }

  private async checkRpId (authData: Bytes, rpID: string, fail: Refuse): Promise<void> {
    const want = createHash('sha256').update(rpID).digest()
    if (authData.length < 37 || !sameBytes(authData.subarray(0, 32), want)) {
      return fail(ErrorCode.passkeyRpId, 'the passkey response was made for another relying party ID')
    }
  }

  /** A refused passkey: counts against the failed-attempt budgets, logged as `passkey_failed`. */
  private async refuse (user: UserRecord | undefined, code: ErrorCodeValue, message: string, ctx: RequestContext): Promise<never> {
    await this.identity.failedAttempt({ account: user?.email, ip: ctx.ip })
    this.identity.event('passkey_failed', { userId: user?.id, ip: ctx.ip, reason: code })
    throw new Failure(code, message)
  }
}

/** A passkey's default name: the browser and platform that made it, from the user agent. */
const defaultName = (userAgent: string): string => {
  const platform = /iPhone|iPad/.test(userAgent) ? 'iOS' : /Android/.test(userAgent) ? 'Android' : /Mac OS X/.test(userAgent) ? 'macOS' : /Windows/.test(userAgent) ? 'Windows' : /Linux/.test(userAgent) ? 'Linux' : ''
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Chrome\//.test(userAgent) ? 'Chrome' : /Firefox\//.test(userAgent) ? 'Firefox' : /Safari\//.test(userAgent) ? 'Safari' : ''
  return [browser, platform].filter(Boolean).join(' on ') || 'Passkey'
}
