/**
 * Typed wrappers over every HTTP route of shared/api.ts. Transport only: tokens come from an
 * injected `authorize` (the AuthManager), which also owns refresh-and-retry on 401.
 */
import type {
  AddMemberRequest, SecurityAlertListResponse, ApiError, CreateDocRequest, DeviceCodeRequest, DeviceCodeResponse, DocInfo, DocListResponse, LoginRequest,
  LoginResponse, MeResponse, MfaConfirmResponse, MfaEnrollResponse, MfaVerifyRequest, PairingRequestInfo, PasskeyInfo,
  PasskeyListResponse, PasskeyLoginOptionsResponse, PasskeyLoginRequest, PasskeyRegisterRequest, PasswordChangeRequest,
  RefreshRequest, RegisterRequest, RegisterResponse, SessionListResponse, StepUpResponse, TokenResponse, UpdateDocRequest, WebAuthnJson
} from '../shared/api.js'
import { DEVICE_CODE_GRANT_TYPE } from '../shared/device-code.js'
import { ApiRequestError, NetworkError } from './errors.js'

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>
/** Runs `send` with a valid access token; refreshes and retries once on an expired one. */
export type Authorize = <T>(send: (accessToken: string) => Promise<T>) => Promise<T>

interface RequestOptions { body?: unknown, token?: string, dpop?: string }

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
const parseRetryAfter = (v: string | null): number | null => {
  if (!v) return null
  const s = Number(v)
  if (Number.isFinite(s)) return Math.max(0, s * 1000)
  const at = Date.parse(v)
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now())
}

/** Request fields that hold credentials: an error text must never quote them. */
const SECRET_FIELDS = ['password', 'current', 'next', 'refreshToken', 'mfaToken', 'code', 'device_code', 'user_code']

const secretsOf = (body: unknown, token?: string, dpop?: string): string[] => {
  const out = [token, dpop]
  if (body && typeof body === 'object') for (const k of SECRET_FIELDS) out.push((body as Record<string, unknown>)[k] as string)
  // Longest first, so that a secret containing another is replaced whole.
  return out.filter((v): v is string => typeof v === 'string' && v.length >= 6).sort((a, b) => b.length - a.length)
}

const redact = (text: string, secrets: string[]): string =>
  secrets.reduce((t, secret) => t.split(secret).join('[redacted]'), text)

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : err === undefined ? '' : String(err))

export class Api {
  authorize: Authorize = () => Promise.reject(new Error('not signed in'))
  /**
   * Server clock minus local clock, from the Date header (1 s resolution, so under 2 s counts as 0).
   * Token expiry times are server times; a device clock running ahead must not refresh in a loop.
   */
  skewMs = 0

  constructor (readonly baseUrl: string, private readonly fetchImpl: FetchLike = (i, init) => globalThis.fetch(i, init)) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
  }

  url (path: string) { return this.baseUrl + path }

  async request<T> (method: string, path: string, { body, token, dpop }: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (token) headers.authorization = `Bearer ${token}`
    if (dpop) headers.dpop = dpop
    const secrets = secretsOf(body, token, dpop)
    let res: Response
    try {
      res = await this.fetchImpl(this.url(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch (err) {
      const message = messageOf(err)
      const clean = redact(message, secrets)
      const cause = (err as { cause?: unknown })?.cause
      // The cause says why (refused, DNS, reset); dropped when it or the message quotes a secret.
      const safe = clean === message && redact(messageOf(cause), secrets) === messageOf(cause)
      throw new NetworkError(`${method} ${path}: ${clean}`, safe ? err : undefined)
    }
    const date = Date.parse(res.headers.get('date') ?? '')
    if (!Number.isNaN(date)) { const skew = date - Date.now(); this.skewMs = Math.abs(skew) < 2000 ? 0 : skew }
    const text = await res.text().catch(() => '')
    let json: unknown = null
    try { json = text ? JSON.parse(text) : null } catch { /* non-JSON body: a proxy or a crash page */ }
    if (!res.ok) {
      const e = (json ?? {}) as Partial<ApiError>
      // 502–504 come from proxies in front of a down server: that is "offline", not an answer.
      if (res.status >= 502 && res.status <= 504) throw new NetworkError(`${method} ${path}: HTTP ${res.status}`)
      const message = typeof e.message === 'string' ? redact(e.message, secrets) : `HTTP ${res.status}`
      throw new ApiRequestError(res.status, typeof e.error === 'string' ? e.error : 'internal', message, parseRetryAfter(res.headers.get('retry-after')))
    }
    return json as T
  }

  private authed<T> (method: string, path: string, body?: unknown): Promise<T> {
    return this.authorize(token => this.request<T>(method, path, { body, token }))
  }

  /** With the access token and a DPoP proof by the session's key; `proof` makes a fresh one per attempt. */
  private authedBound<T> (method: string, path: string, body: unknown, proof: () => Promise<string>): Promise<T> {
    return this.authorize(async token => this.request<T>(method, path, { body, token, dpop: await proof() }))
  }

  // Unauthenticated (token endpoints take a DPoP proof for the exact URL).
  register (req: RegisterRequest) { return this.request<RegisterResponse>('POST', '/auth/register', { body: req }) }
  login (req: LoginRequest, dpop: string) { return this.request<LoginResponse>('POST', '/auth/login', { body: req, dpop }) }
  verifyMfa (req: MfaVerifyRequest, dpop: string) { return this.request<TokenResponse>('POST', '/auth/mfa/verify', { body: req, dpop }) }
  refresh (req: RefreshRequest, dpop: string) { return this.request<TokenResponse>('POST', '/auth/refresh', { body: req, dpop }) }
  /** Logout takes the token directly: it must not trigger a refresh of a session being ended. */
  logout (accessToken: string) { return this.request<void>('POST', '/auth/logout', { token: accessToken }) }

  /** The signed-in account. */
  me () { return this.authed<MeResponse>('GET', '/me') }

  // Device sessions
  listSessions () { return this.authed<SessionListResponse>('GET', '/sessions') }
  revokeSession (id: string) { return this.authed<void>('DELETE', `/sessions/${encodeURIComponent(id)}`) }
  revokeOtherSessions () { return this.authed<void>('POST', '/sessions/revoke-others') }

  // Account security
  changePassword (req: PasswordChangeRequest) { return this.authed<void>('POST', '/auth/password', req) }
  enrollMfa () { return this.authed<MfaEnrollResponse>('POST', '/auth/mfa/enroll') }
  confirmMfa (code: string) { return this.authed<MfaConfirmResponse>('POST', '/auth/mfa/confirm', { code }) }
  /** Needs a stepped-up token (`SyncClient.stepUp(code)` first): the proof of the second factor is the token, not a code. */
  disableMfa () { return this.authed<void>('POST', '/auth/mfa/disable') }
  stepUp (code: string) { return this.authed<StepUpResponse>('POST', '/auth/step-up', { code }) }

  // Pairing a device by code (RFC 8628): the new device's side takes its own DPoP proofs.
  requestDeviceCode (req: DeviceCodeRequest, dpop: string) { return this.request<DeviceCodeResponse>('POST', '/auth/device/code', { body: req, dpop }) }
  pollDeviceToken (deviceCode: string, dpop: string) {
    return this.request<TokenResponse>('POST', '/auth/device/token', { body: { grant_type: DEVICE_CODE_GRANT_TYPE, device_code: deviceCode }, dpop })
  }
  /** What asks to be added under a code the person typed (any case, hyphen optional). */
  lookupPairing (userCode: string) { return this.authed<PairingRequestInfo>('POST', '/auth/device/lookup', { user_code: userCode }) }
  /** Needs a proof by this session's key (`SyncClient.approvePairing` makes them) and, with MFA on, a stepped-up token. */
  approvePairing (userCode: string, proof: () => Promise<string>) {
    return this.authedBound<PairingRequestInfo>('POST', '/auth/device/approve', { user_code: userCode }, proof)
  }
  denyPairing (userCode: string) { return this.authed<PairingRequestInfo>('POST', '/auth/device/deny', { user_code: userCode }) }

  // Passkeys
  /** Open security alerts of the signed-in user; "it was me"; "sign it out". */
  listAlerts () { return this.authed<SecurityAlertListResponse>('GET', '/auth/alerts') }
  confirmAlert (id: string) { return this.authed<void>('POST', `/auth/alerts/${encodeURIComponent(id)}/confirm`) }
  signOutAlertSession (id: string) { return this.authed<void>('POST', `/auth/alerts/${encodeURIComponent(id)}/sign-out`) }

  listPasskeys () { return this.authed<PasskeyListResponse>('GET', '/auth/passkeys') }
  passkeyRegistrationOptions () { return this.authed<WebAuthnJson>('POST', '/auth/passkeys/register/options') }
  registerPasskey (req: PasskeyRegisterRequest, proof: () => Promise<string>) { return this.authedBound<PasskeyInfo>('POST', '/auth/passkeys/register', req, proof) }
  passkeyLoginOptions () { return this.request<PasskeyLoginOptionsResponse>('POST', '/auth/passkeys/login/options') }
  passkeyLogin (req: PasskeyLoginRequest, dpop: string) { return this.request<TokenResponse>('POST', '/auth/passkeys/login', { body: req, dpop }) }
  passkeyStepUpOptions () { return this.authed<WebAuthnJson>('POST', '/auth/passkeys/step-up/options') }
  passkeyStepUp (response: WebAuthnJson) { return this.authed<StepUpResponse>('POST', '/auth/passkeys/step-up', { response }) }
  renamePasskey (id: string, name: string) { return this.authed<PasskeyInfo>('PATCH', `/auth/passkeys/${encodeURIComponent(id)}`, { name }) }
  /** With MFA on, needs a stepped-up token. */
  removePasskey (id: string) { return this.authed<void>('DELETE', `/auth/passkeys/${encodeURIComponent(id)}`) }

  /**
   * An admin API call (`/admin/*`, admins only): needs a proof by this session's key per request
   * (`SyncClient.admin` makes them); ending sessions and disabling accounts need step-up with MFA on.
   */
  admin<T> (method: string, path: string, body: unknown, proof: () => Promise<string>) { return this.authedBound<T>(method, path, body, proof) }

  // Shared documents
  createDoc (req: CreateDocRequest) { return this.authed<DocInfo>('POST', '/docs', req) }
  listDocs () { return this.authed<DocListResponse>('GET', '/docs') }
  getDoc (id: string) { return this.authed<DocInfo>('GET', `/docs/${encodeURIComponent(id)}`) }
  renameDoc (id: string, req: UpdateDocRequest) { return this.authed<DocInfo>('PATCH', `/docs/${encodeURIComponent(id)}`, req) }
  deleteDoc (id: string) { return this.authed<void>('DELETE', `/docs/${encodeURIComponent(id)}`) }
  addMember (docId: string, req: AddMemberRequest) { return this.authed<DocInfo>('POST', `/docs/${encodeURIComponent(docId)}/members`, req) }
  removeMember (docId: string, userId: string) {
    return this.authed<void>('DELETE', `/docs/${encodeURIComponent(docId)}/members/${encodeURIComponent(userId)}`)
  }
}
