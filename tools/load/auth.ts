import { exportJWK, generateKeyPair, type JWK } from 'jose'
import { createDpopProof } from '../../shared/dpop.js'
import type { LoginResponse, RegisterRequest, TokenResponse, LoginRequest, RefreshRequest, ApiError } from '../../shared/api.js'
import { isMfaRequired } from '../../shared/api.js'
import type { DeviceOptions } from './device.js'

/**
 * A simulated device's identity: its own ES256 key, DPoP proofs on login and refresh, rotating
 * refresh tokens. Deliberately the same HTTP path a real device takes.
 */
export class DeviceCredentials {
  private tokens: TokenResponse | null = null
  /** When `tokens` arrived: the access token's lifetime is `accessTokenExpiresAt` minus this. */
  private receivedAt = 0
  private key!: { privateKey: CryptoKey, jwk: JWK }
  private refreshing: Promise<string> | null = null
  private readonly listeners = new Set<(token: string) => void>()
  private renewTimer: ReturnType<typeof setTimeout> | null = null

  constructor (private readonly baseUrl: string, readonly email: string, private readonly password: string, private readonly deviceName: string) {}

  get sessionDoc () { return this.tokens?.sessionDoc ?? '' }
  get userId () { return this.tokens?.userId ?? '' }

  async login (): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false })
    this.key = { privateKey, jwk: await exportJWK(publicKey) }
    const body: LoginRequest = { email: this.email, password: this.password, device: { name: this.deviceName, platform: 'loadtest' } }
    const res = await this.post<LoginResponse>('/auth/login', body, true)
    if (isMfaRequired(res)) throw new Error('load-test users must not have MFA enabled')
    this.tokens = res
    this.receivedAt = Date.now()
  }

  /** Called with every new access token (after each refresh). Returns the unsubscribe function. */
  onToken (cb: (token: string) => void): () => void {
    this.listeners.add(cb)
    return () => this.listeners.delete(cb)
  }

  /**
   * Refresh before the access token expires, as the SDK's token manager does (client/auth.ts: a
   * margin of min(60 s, a quarter of the lifetime)), so that devices renew their open sockets
   * in-band (`onToken` → a reauth message) instead of being closed with 4401 and reconnecting.
   */
  keepFresh (): void {
    if (!this.tokens || this.renewTimer) return
    const lifetime = this.tokens.accessTokenExpiresAt - this.receivedAt
    const margin = Math.min(60_000, lifetime / 4)
    const due = Math.max(0, this.tokens.accessTokenExpiresAt - margin - Date.now())
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null
      this.accessToken(true).then(() => this.keepFresh(), () => {})
    }, due)
    this.renewTimer.unref()
  }

  /**
   * A device's token options. With `renewInBand` (every scenario but churn) renewals start at its
   * first connect (a fleet still logging in has no socket to renew) and each new token reaches its
   * open socket as a reauth; without it the device refreshes only when closed with 4401.
   */
  forDevice (renewInBand: boolean): Pick<DeviceOptions, 'getToken' | 'onToken'> {
    return {
      getToken: async reason => {
        const token = await this.accessToken(reason === 'expired')
        if (renewInBand) this.keepFresh()
        return token
      },
      onToken: renewInBand ? cb => this.onToken(cb) : undefined
    }
  }

  stopRenewing (): void {
    if (this.renewTimer) clearTimeout(this.renewTimer)
    this.renewTimer = null
  }

  /** A valid access token; refreshes when it expires within `marginMs` or when `force`d. */
  async accessToken (force = false, marginMs = 5000): Promise<string> {
    if (!this.tokens) throw new Error('not logged in')
    if (!force && this.tokens.accessTokenExpiresAt - Date.now() > marginMs) return this.tokens.accessToken
    // One refresh at a time per device: a second concurrent caller must not spend the rotated token.
    this.refreshing ??= this.refresh().finally(() => { this.refreshing = null })
    return this.refreshing
  }

  private async refresh (): Promise<string> {
    const body: RefreshRequest = { refreshToken: this.tokens!.refreshToken }
    this.tokens = await this.post<TokenResponse>('/auth/refresh', body, true)
    this.receivedAt = Date.now()
    for (const cb of this.listeners) cb(this.tokens.accessToken)
    return this.tokens.accessToken
  }

  private proof (method: string, url: string) {
    return createDpopProof(this.key.privateKey, this.key.jwk, method, url)
  }

  private async post<T> (path: string, body: unknown, dpop: boolean): Promise<T> {
    const url = this.baseUrl + path
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (dpop) headers.dpop = await this.proof('POST', url)
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) }).catch((err: Error & { cause?: { code?: string } }) => {
      // undici says only "fetch failed"; the request and the socket error tell what went wrong.
      throw new Error(`${path}: ${err.message}${err.cause?.code ? ` (${err.cause.code})` : ''}`)
    })
    const json = await res.json() as T | ApiError
    if (!res.ok) throw new Error(`${path} ${res.status} ${(json as ApiError).error}`)
    return json as T
  }
}

/** Create an account through the public API (idempotent for reruns: 409 means it exists). */
export const registerUser = async (baseUrl: string, email: string, password: string): Promise<void> => {
  const body: RegisterRequest = { email, password }
  const res = await fetch(`${baseUrl}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (res.status === 429) throw new Error(`register 429: the server allows few registrations per IP; start it with --registrations-per-ip set above the number of users`)
  if (res.status !== 201 && res.status !== 409) throw new Error(`register ${res.status} ${await res.text()}`)
}
