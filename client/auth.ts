/**
 * Owns the device session: login (with DPoP), the access token, refresh before expiry and on 401,
 * and the one-way "session ended" transition. Refreshes are serialized per profile (lock.ts) and,
 * inside the lock, re-read the stored tokens so that a sibling instance's rotation is adopted
 * instead of presenting a spent refresh token (which the server treats as theft).
 */
import type { DeviceCodeResponse, DeviceInfo, PairingRequestInfo, PasskeyInfo, StepUpResponse, TokenResponse } from '../shared/api.js'
import { isMfaRequired } from '../shared/api.js'
import { DEVICE_POLL_INTERVAL_S } from '../shared/device-code.js'
import { createDpopProof } from '../shared/dpop.js'
import type { Api, Authorize } from './api.js'
import { backoffDelay, sleep, unrefTimer } from './backoff.js'
import { getOrCreateDeviceKey } from './device-key.js'
import { Emitter } from './emitter.js'
import { ApiRequestError, NetworkError, SESSION_OVER_CODES, SessionEndedError } from './errors.js'
import { withProfileLock } from './lock.js'
import type { PasskeyAuthenticator } from './passkeys.js'
import type { ProfileStore } from './profile-store.js'

/** Why a session is over. Server-side ends ('revoked', 'session_ended', 'refresh_token_reused') also emit `revoked`. */
export type SessionEndReason = 'revoked' | 'session_ended' | 'refresh_token_reused' | 'signed_out' | 'logout'

export interface AuthEvents extends Record<string, unknown> {
  /** A new access token (login, refresh, or adopted from a sibling instance). */
  token: { accessToken: string, expiresAt: number }
  signedIn: { userId: string, sessionId: string }
  /** `detail`: the server's explanation when it gave one (e.g. a close reason). */
  sessionEnded: { reason: SessionEndReason, detail?: string }
  revoked: { reason: SessionEndReason, detail?: string }
}

export interface AuthOptions {
  device: DeviceInfo
  /** Refresh this long before expiry at most (a quarter of the token's lifetime at least). Default 60 s. */
  refreshMarginMs?: number
  /** Network attempts per refresh before giving up until the next trigger. Default 6. */
  maxRefreshAttempts?: number
  /** Refresh on a timer before expiry (default). Off: only on demand (401, close 4401, accessToken()). */
  autoRefresh?: boolean
}

export type LoginResult = { mfaRequired: true, mfaToken: string } | { mfaRequired: false, tokens: TokenResponse }

export interface PairDeviceOptions {
  /** Show these to the person: `user_code`, and a QR code of `verification_uri_complete`. Called again for each new code. */
  onCode: (code: DeviceCodeResponse) => void
  /** Stops polling; the pending promise rejects with the signal's reason. */
  signal?: AbortSignal
  /** Ask for a new code when one expires instead of failing with `expired_token`. Default false. */
  renew?: boolean
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
const waitOrAbort = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  if (signal?.aborted) { reject(signal.reason); return }
  const done = () => { signal?.removeEventListener('abort', abort); resolve() }
  const timer = setTimeout(done, ms)
  const abort = () => { clearTimeout(timer); reject(signal!.reason) }
  signal?.addEventListener('abort', abort, { once: true })
})

export class AuthManager extends Emitter<AuthEvents> {
  private tokens: TokenResponse | null = null
  private marginMs = 0
  private ended = false
  private refreshing: Promise<string> | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private destroyed = false
  /** The stored-token cleanup started by `end`, awaited by `idle`. */
  private clearing: Promise<void> = Promise.resolve()

  constructor (private readonly api: Api, readonly store: ProfileStore, private readonly opts: AuthOptions) {
    super()
    api.authorize = this.authorize
  }

  /** Resume a stored session (e.g. after an app restart) without contacting the server. */
  async init (): Promise<void> {
    const stored = await this.store.getTokens()
    if (stored) this.adopt(stored)
  }

  get signedIn () { return this.tokens !== null && !this.ended }
  get sessionEnded () { return this.ended }
  get userId () { return this.tokens?.userId ?? null }
  get sessionId () { return this.tokens?.sessionId ?? null }
  get sessionDoc () { return this.tokens?.sessionDoc ?? null }
  get current () { return this.tokens }

  /** `locked`: the caller already holds the profile lock (it is not re-entrant). */
  private async proof (path: string, locked = false, method = 'POST'): Promise<string> {
    const key = locked ? await getOrCreateDeviceKey(this.store) : await withProfileLock(this.store, () => getOrCreateDeviceKey(this.store))
    return createDpopProof(key.privateKey, key.publicJwk, method, this.api.url(path))
  }

  async login (email: string, password: string): Promise<LoginResult> {
    const res = await this.api.login({ email, password, device: this.opts.device }, await this.proof('/auth/login'))
    if (isMfaRequired(res)) return { mfaRequired: true, mfaToken: res.mfaToken }
    await this.signIn(res)
    return { mfaRequired: false, tokens: res }
  }

  async verifyMfa (mfaToken: string, code: string): Promise<TokenResponse> {
    const res = await this.api.verifyMfa({ mfaToken, code }, await this.proof('/auth/mfa/verify'))
    await this.signIn(res)
    return res
  }

  /**
   * The new device's side of pairing by code (RFC 8628): asks for a code with this device's key, hands
   * it to `onCode`, and polls at the server's interval (5 s more after each `slow_down`, exponential
   * backoff while offline) until a signed-in device approves it. Resolves signed in; rejects with the
   * server's `access_denied`, `expired_token` (unless `renew`) or `invalid_grant` as an ApiRequestError.
   */
  async pairDevice (opts: PairDeviceOptions): Promise<TokenResponse> {
    for (;;) {
      const code = await this.api.requestDeviceCode({ device: this.opts.device }, await this.proof('/auth/device/code'))
      opts.onCode(code)
      try {
        return await this.pollDeviceCode(code, opts.signal)
      } catch (err) {
        if (!(opts.renew && err instanceof ApiRequestError && err.code === 'expired_token')) throw err
      }
    }
  }

  private async pollDeviceCode (code: DeviceCodeResponse, signal?: AbortSignal): Promise<TokenResponse> {
    let intervalMs = Math.max(1, code.interval || DEVICE_POLL_INTERVAL_S) * 1000
    for (let offline = 0; ;) {
      await waitOrAbort(intervalMs + (offline > 0 ? backoffDelay(offline - 1) : 0), signal)
      try {
        const tokens = await this.api.pollDeviceToken(code.device_code, await this.proof('/auth/device/token'))
        await this.signIn(tokens)
        return tokens
      } catch (err) {
        if (err instanceof NetworkError) { offline++; continue }
        offline = 0
        if (err instanceof ApiRequestError && err.code === 'authorization_pending') continue
        if (err instanceof ApiRequestError && err.code === 'slow_down') { intervalMs += DEVICE_POLL_INTERVAL_S * 1000; continue }
        throw err
      }
    }
  }

  /** Sign in with a passkey: the authenticator offers this site's passkeys (no email needed). */
  async loginWithPasskey (authenticator: PasskeyAuthenticator): Promise<TokenResponse> {
    const begin = await this.api.passkeyLoginOptions()
    const response = await authenticator.get(begin.options)
    const tokens = await this.api.passkeyLogin({ attemptId: begin.attemptId, response, device: this.opts.device }, await this.proof('/auth/passkeys/login'))
    await this.signIn(tokens)
    return tokens
  }

  /** Adds a passkey to the account from this signed-in device (with MFA on, step up first). */
  async registerPasskey (authenticator: PasskeyAuthenticator, name?: string): Promise<PasskeyInfo> {
    const options = await this.api.passkeyRegistrationOptions()
    const response = await authenticator.create(options)
    return this.api.registerPasskey(name ? { response, name } : { response }, () => this.proof('/auth/passkeys/register'))
  }

  /** Proves the second factor with a passkey (user verification); like `stepUp(code)`. */
  async stepUpWithPasskey (authenticator: PasskeyAuthenticator): Promise<void> {
    const options = await this.api.passkeyStepUpOptions()
    await this.adoptStepUp(await this.api.passkeyStepUp(await authenticator.get(options)))
  }

  /** Lets the device that shows `userCode` sign in to this account (with MFA on, step up first). */
  /** An admin API call with a fresh proof (for the path without its query) per attempt. */
  admin<T> (method: string, path: string, body?: unknown): Promise<T> {
    return this.api.admin<T>(method, path, body, () => this.proof(path.split('?')[0]!, false, method))
  }

  approvePairing (userCode: string): Promise<PairingRequestInfo> {
    return this.api.approvePairing(userCode, () => this.proof('/auth/device/approve'))
  }

  private async signIn (tokens: TokenResponse) {
    await withProfileLock(this.store, () => this.store.setTokens(tokens))
    this.ended = false
    this.adopt(tokens)
    this.emit('signedIn', { userId: tokens.userId, sessionId: tokens.sessionId })
  }

  private adopt (tokens: TokenResponse) {
    const changed = this.tokens?.accessToken !== tokens.accessToken
    this.tokens = tokens
    const ttl = Math.max(0, this.localExpiry(tokens) - Date.now())
    this.marginMs = Math.min(this.opts.refreshMarginMs ?? 60_000, ttl / 4)
    this.schedule(this.localExpiry(tokens) - this.marginMs - Date.now())
    if (changed) this.emit('token', { accessToken: tokens.accessToken, expiresAt: tokens.accessTokenExpiresAt })
  }

  private schedule (delayMs: number) {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.destroyed || this.ended || this.opts.autoRefresh === false) return
    // Never sooner than 200 ms: a token that already looks expired must not spin the loop.
    delayMs = Math.max(200, delayMs)
    this.timer = unrefTimer(setTimeout(() => {
      this.timer = null
      // Offline now: try again later; sockets that hit 4401 meanwhile trigger their own refresh.
      // Due: the current token counts as spent, so the refresh rotates unless a sibling already did.
      this.refresh(this.tokens?.accessToken).catch((err) => { if (!(err instanceof SessionEndedError)) this.schedule(5_000) })
    }, Math.min(Math.max(0, delayMs), 2 ** 31 - 1)))
  }

  /** The expiry on the local clock. */
  private localExpiry (t: TokenResponse) { return t.accessTokenExpiresAt - this.api.skewMs }
  private expiringSoon (t: TokenResponse) { return this.localExpiry(t) - Date.now() <= this.marginMs }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken (): Promise<string> {
    if (this.ended || !this.tokens) throw new SessionEndedError(this.ended ? 'session_ended' : 'signed_out')
    if (!this.expiringSoon(this.tokens)) return this.tokens.accessToken
    return this.refresh()
  }

  /**
   * Get a fresh access token. `rejected` is a token the server refused (401 / close 4401): a stored
   * token different from it is adopted as is; otherwise the refresh token is rotated.
   * One refresh at a time per instance; the profile lock extends that across instances.
   */
  refresh (rejected?: string): Promise<string> {
    const run = () => (this.refreshing ??= this.refreshLoop(rejected).finally(() => { this.refreshing = null }))
    // Joining a refresh started for another reason may yield the very token that was rejected: go again.
    return run().then(t => (rejected !== undefined && t === rejected ? run() : t))
  }

  private async refreshLoop (rejected?: string): Promise<string> {
    const max = this.opts.maxRefreshAttempts ?? 6
    for (let attempt = 0; ; attempt++) {
      if (this.ended || !this.tokens) throw new SessionEndedError('session_ended')
      try {
        return await withProfileLock(this.store, () => this.refreshLocked(rejected))
      } catch (err) {
        if (err instanceof SessionEndedError) throw err
        const retryable = err instanceof NetworkError || (err instanceof ApiRequestError && (err.status >= 500 || err.status === 429))
        if (!retryable || attempt + 1 >= max || this.destroyed) throw err
        const wait = err instanceof ApiRequestError && err.retryAfterMs !== null ? err.retryAfterMs : backoffDelay(attempt)
        if (wait > 60_000) throw err // rate-limited for long: let the next trigger try, do not hold the refresh
        await sleep(wait)
      }
    }
  }

  private async refreshLocked (rejected?: string): Promise<string> {
    const held = this.tokens
    const stored = await this.store.getTokens()
    if (!held || this.ended) throw new SessionEndedError('session_ended')
    if (!stored) {
      // A sibling instance logged out or saw the session end and cleared the profile.
      this.end('signed_out', false)
      throw new SessionEndedError('signed_out')
    }
    if (stored.refreshToken !== held.refreshToken) {
      // A sibling instance already rotated (or signed in again): its refresh token is the live one, ours is spent.
      this.adopt(stored)
    }
    if (stored.accessToken !== rejected && !this.expiringSoon(stored)) return stored.accessToken
    let next: TokenResponse
    try {
      next = await this.api.refresh({ refreshToken: stored.refreshToken }, await this.proof('/auth/refresh', true))
    } catch (err) {
      // Any 401 from the refresh endpoint other than a bad proof means this refresh token will never work again.
      if (err instanceof ApiRequestError && err.status === 401 && err.code !== 'invalid_dpop_proof') {
        const reason = SESSION_OVER_CODES.has(err.code) ? err.code as SessionEndReason : 'session_ended'
        this.end(reason, true)
        throw new SessionEndedError(reason)
      }
      throw err
    }
    // The old refresh token is spent from this moment on: hold the new one in memory whatever happens,
    // and persist it for sibling instances and the next run.
    this.adopt(next)
    await this.store.setTokens(next).catch(err => console.error('[sync-sdk] could not persist rotated tokens', err))
    return next.accessToken
  }

  /**
   * Prove the second factor again (sensitive actions answer 403 step_up_required otherwise). The
   * stepped-up access token replaces the current one; the refresh token is unchanged.
   */
  async stepUp (code: string): Promise<void> {
    await this.adoptStepUp(await this.api.stepUp(code))
  }

  /** The stepped-up access token replaces the current one; the refresh token is unchanged. */
  private async adoptStepUp (res: StepUpResponse): Promise<void> {
    const held = this.tokens
    if (!held || this.ended) throw new SessionEndedError('session_ended')
    const next = { ...held, accessToken: res.accessToken, accessTokenExpiresAt: res.accessTokenExpiresAt }
    await withProfileLock(this.store, async () => {
      const stored = await this.store.getTokens()
      // Keep a sibling's newer refresh token if it rotated meanwhile.
      await this.store.setTokens(stored && stored.sessionId === held.sessionId ? { ...stored, accessToken: res.accessToken, accessTokenExpiresAt: res.accessTokenExpiresAt } : next)
    })
    this.adopt(next)
  }

  /** For Api: run a request with a token, refreshing and retrying once on an expired/invalid one. */
  readonly authorize: Authorize = async <T>(send: (token: string) => Promise<T>): Promise<T> => {
    const token = await this.accessToken()
    try {
      return await send(token)
    } catch (err) {
      if (!(err instanceof ApiRequestError) || err.status !== 401) throw err
      if (SESSION_OVER_CODES.has(err.code)) {
        this.end(err.code as SessionEndReason, true)
        throw new SessionEndedError(err.code)
      }
      const fresh = await this.refresh(token)
      try {
        return await send(fresh)
      } catch (err2) {
        if (err2 instanceof ApiRequestError && err2.status === 401 && SESSION_OVER_CODES.has(err2.code)) {
          this.end(err2.code as SessionEndReason, true)
          throw new SessionEndedError(err2.code)
        }
        throw err2
      }
    }
  }

  /**
   * The one-way transition: stops the refresh timer, forgets the tokens (the key and caches stay, so
   * that re-login on this device resumes and uploads what was edited meanwhile). Emits once.
   */
  end (reason: SessionEndReason, byServer: boolean, detail?: string): void {
    if (this.ended) return
    this.ended = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const sessionId = this.tokens?.sessionId
    // Clear the stored tokens only if they still belong to the session that ended (not a newer
    // login); under the lock, so that a concurrent sign-in's write cannot fall in between.
    this.clearing = withProfileLock(this.store, async () => {
      const t = await this.store.getTokens()
      if (t && t.sessionId === sessionId) await this.store.setTokens(null)
    }).catch(() => {})
    const ev = detail ? { reason, detail } : { reason }
    this.emit('sessionEnded', ev)
    if (byServer) this.emit('revoked', ev)
  }

  async logout (): Promise<void> {
    const token = this.ended ? undefined : this.tokens?.accessToken
    // End locally first: sockets are stopped before the server's 4403 for this logout could arrive
    // and be mistaken for a revocation.
    this.end('logout', false)
    // Best effort: offline logout still ends the session locally; the server expires it later.
    if (token) await this.api.logout(token).catch(() => {})
    await this.store.setTokens(null).catch(() => {})
  }

  /** Resolves when background writes to the profile store are done. */
  async idle (): Promise<void> {
    await this.clearing
    await this.refreshing?.catch(() => {})
  }

  destroy (): void {
    this.destroyed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.removeAllListeners()
  }
}
