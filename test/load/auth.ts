import { exportJWK, generateKeyPair, type JWK } from 'jose'
import { createDpopProof } from '../../shared/dpop.js'
import type { LoginResponse, RegisterRequest, TokenResponse, LoginRequest, RefreshRequest, ApiError } from '../../shared/api.js'
import { isMfaRequired } from '../../shared/api.js'

/**
 * A simulated device's identity: its own ES256 key, DPoP proofs on login and refresh, rotating
 * refresh tokens. Deliberately the same HTTP path a real device takes.
 */
export class DeviceCredentials {
  private tokens: TokenResponse | null = null
  private key!: { privateKey: CryptoKey, jwk: JWK }
  private refreshing: Promise<string> | null = null
  refreshes = 0

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
    this.refreshes++
    return this.tokens.accessToken
  }

  private proof (method: string, url: string) {
    return createDpopProof(this.key.privateKey, this.key.jwk, method, url)
  }

  private async post<T> (path: string, body: unknown, dpop: boolean): Promise<T> {
    const url = this.baseUrl + path
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (dpop) headers.dpop = await this.proof('POST', url)
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })
    const json = await res.json() as T | ApiError
    if (!res.ok) throw new Error(`${path} ${res.status} ${(json as ApiError).error}`)
    return json as T
  }
}

/** Create an account through the public API (idempotent for reruns: 409 means it exists). */
export const registerUser = async (baseUrl: string, email: string, password: string): Promise<void> => {
  const body: RegisterRequest = { email, password }
  const res = await fetch(`${baseUrl}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (res.status !== 201 && res.status !== 409) throw new Error(`register ${res.status} ${await res.text()}`)
}
