/**
 * The HTTP API's request and response bodies, shared by the server (which validates them at the
 * edge) and the client SDK. Times are milliseconds since the epoch. Every error is `ApiError`.
 */

export interface DeviceInfo {
  /** Human name shown on the session dashboard, e.g. "Alice's phone". 1–64 chars. */
  name: string
  /** e.g. "ios", "android", "web", "macos", "node". 1–32 chars. */
  platform: string
}

export interface RegisterRequest { email: string, password: string }
export interface RegisterResponse { userId: string }

export interface LoginRequest { email: string, password: string, device: DeviceInfo }
export interface TokenResponse {
  accessToken: string
  refreshToken: string
  sessionId: string
  userId: string
  accessTokenExpiresAt: number
  /** The user's private session document: `session:<userId>`. */
  sessionDoc: string
}
export interface MfaRequiredResponse { mfaRequired: true, mfaToken: string }
export type LoginResponse = TokenResponse | MfaRequiredResponse
export const isMfaRequired = (r: LoginResponse): r is MfaRequiredResponse => 'mfaRequired' in r && r.mfaRequired === true

/** `code` is a 6-digit TOTP code or one of the recovery codes (single use). */
export interface MfaVerifyRequest { mfaToken: string, code: string }
export interface RefreshRequest { refreshToken: string }
/** Step-up: prove the second factor again for sensitive actions. Returns a fresh access token. */
export interface StepUpRequest { code: string }
export interface StepUpResponse { accessToken: string, accessTokenExpiresAt: number }

export interface PasswordChangeRequest { current: string, next: string }
export interface MfaEnrollResponse { secret: string, otpauthUri: string }
export interface MfaConfirmRequest { code: string }
export interface MfaConfirmResponse { recoveryCodes: string[] }

/** `GET /me`: the signed-in account. */
export interface MeResponse { userId: string, email: string, mfaEnabled: boolean, createdAt: number, sessionId: string, /** Present (true) for admins. */ admin?: true }

export interface SessionInfo {
  id: string
  deviceName: string
  platform: string
  userAgent: string
  createdAt: number
  lastSeenAt: number
  lastIp: string
  /** The session making this request. */
  current: boolean
  /** Live sockets of this session right now. */
  online: number
}
export interface SessionListResponse { sessions: SessionInfo[] }

export type DocRole = 'owner' | 'editor' | 'viewer'
export interface DocInfo {
  id: string
  /** The name to open over WebSocket: `draft:<id>`. */
  docName: string
  title: string
  ownerId: string
  role: DocRole
  createdAt: number
  updatedAt: number
  members?: DocMember[]
}
export interface DocMember { userId: string, email: string, role: DocRole }
export interface CreateDocRequest { title: string }
export interface UpdateDocRequest { title: string }
export interface AddMemberRequest { email: string, role: 'editor' | 'viewer' }
export interface DocListResponse { docs: DocInfo[] }

/**
 * Pairing a device by code (RFC 8628 device authorization grant). The new device asks for a code
 * (`POST /auth/device/code` with its DPoP proof), shows `user_code` and a QR code of
 * `verification_uri_complete`, and polls `POST /auth/device/token` with proofs by the same key; a
 * signed-in device looks the code up and approves or denies it. Field names are the RFC's.
 */
export interface DeviceCodeRequest { device: DeviceInfo }
export interface DeviceCodeResponse {
  /** Secret to the new device: it polls with it. */
  device_code: string
  /** What the person types on the signed-in device, `XXXX-XXXX`. */
  user_code: string
  verification_uri: string
  /** `verification_uri` with the code in it, for a QR code. */
  verification_uri_complete: string
  /** Seconds until both codes expire. */
  expires_in: number
  /** Seconds to wait between polls. */
  interval: number
}
/** `grant_type` is `urn:ietf:params:oauth:grant-type:device_code` (shared/device-code.ts). Success answers TokenResponse. */
export interface DeviceTokenRequest { grant_type: string, device_code: string }
/** Lookup, approval and denial name the request by the code the person typed. */
export interface UserCodeRequest { user_code: string }
/** What asks to be added, for the approval screen. */
export interface PairingRequestInfo {
  userCode: string
  device: DeviceInfo
  /** Where the request came from, and its user agent. */
  ip: string
  userAgent: string
  requestedAt: number
  expiresAt: number
  /** The request came from the approving device's own address: a code on a screen in the same room usually does. */
  sameNetwork: boolean
}

/**
 * Passkeys (WebAuthn). Options and responses are the WebAuthn JSON forms that
 * `@simplewebauthn/browser` takes and returns; the server checks them with `@simplewebauthn/server`.
 */
export type WebAuthnJson = Record<string, unknown>
export interface PasskeyInfo {
  id: string
  name: string
  createdAt: number
  lastUsedAt?: number
  /** Synced by a passkey provider (multi-device) or bound to one authenticator. */
  deviceType: 'singleDevice' | 'multiDevice'
  backedUp: boolean
}
export interface PasskeyListResponse { passkeys: PasskeyInfo[] }
export interface PasskeyRegisterRequest { response: WebAuthnJson, name?: string }
export interface PasskeyRenameRequest { name: string }
/** Sign-in options carry the attempt their challenge is bound to. */
export interface PasskeyLoginOptionsResponse { attemptId: string, options: WebAuthnJson }
export interface PasskeyLoginRequest { attemptId: string, response: WebAuthnJson, device: DeviceInfo }
export interface PasskeyStepUpRequest { response: WebAuthnJson }

/**
 * Server-side document API (`PATCH /api/users/:id/session-doc`): either `ops` on the document's maps
 * (`path` is `<map>.<key>`, nested maps dot-separated; `set` needs `value`), or `update`, one base64
 * Yjs v1 update.
 */
export type SessionDocOp = { op: 'set', path: string, value: unknown } | { op: 'delete', path: string }
export type SessionDocPatchRequest = { ops: SessionDocOp[] } | { update: string }
export interface SessionDocPatchResponse { appliedBytes: number }

/** What a security alert is about: `signal` is the strongest of `signals` (docs/identity.md, Anomaly detection). */
export interface SecurityAlert {
  id: string
  at: number
  signal: string
  signals: string[]
  /** 0..100. */
  score: number
  /** What the server did besides telling: `step_up` (the session must prove a second factor), `revoke` (ended). */
  action: 'notify' | 'step_up' | 'revoke'
  /** The device session the alert is about, when there is one; `device` and `place` describe it. */
  sessionId?: string
  device?: { name: string, platform: string }
  ip?: string
  /** "Berlin, DE" with `--geoip`. */
  place?: string
}
export interface SecurityAlertListResponse { alerts: SecurityAlert[] }
/** Sent on the session document's socket (`securityAlert` message): a new alert, or one resolved anywhere. */
export type SecurityAlertMessage =
  | { type: 'alert', alert: SecurityAlert }
  | { type: 'resolved', id: string, resolution: 'confirmed' | 'signed_out' }

export const ErrorCode = {
  invalidRequest: 'invalid_request',
  /** Not a usable email address (invisible characters, spaces, no domain): the message says why. */
  invalidEmail: 'invalid_email',
  weakPassword: 'weak_password',
  emailTaken: 'email_taken',
  invalidCredentials: 'invalid_credentials',
  invalidMfaCode: 'invalid_mfa_code',
  mfaNotEnabled: 'mfa_not_enabled',
  mfaAlreadyEnabled: 'mfa_already_enabled',
  invalidToken: 'invalid_token',
  tokenExpired: 'token_expired',
  /** The device session was revoked, logged out, or expired: sign in again. */
  sessionEnded: 'session_ended',
  /** A rotated refresh token was presented again: the session was revoked. */
  refreshReuse: 'refresh_token_reused',
  invalidDpop: 'invalid_dpop_proof',
  stepUpRequired: 'step_up_required',
  /** The account was disabled by an admin: sign-in, refresh and sockets are refused. */
  accountDisabled: 'account_disabled',
  forbidden: 'forbidden',
  notFound: 'not_found',
  conflict: 'conflict',
  rateLimited: 'rate_limited',
  internal: 'internal',
  /** Device pairing, polling (RFC 8628 §3.5): not approved yet, keep polling at `interval`. */
  authorizationPending: 'authorization_pending',
  /** Device pairing, polling: too fast; add 5 s to the interval. */
  slowDown: 'slow_down',
  /** Device pairing, polling: the request was denied; stop. */
  accessDenied: 'access_denied',
  /** Device pairing, polling: the codes expired; ask for new ones. */
  expiredToken: 'expired_token',
  /** Device pairing, polling: unknown or already used device code. */
  invalidGrant: 'invalid_grant',
  /** Device pairing, approval: no pending request has this code (mistyped, expired or already decided). */
  invalidUserCode: 'invalid_user_code',
  /** Passkeys: the challenge is unknown, expired, already used, or was issued to another session or attempt. */
  passkeyChallenge: 'passkey_challenge_invalid',
  /** Passkeys: the response was made for another origin (a look-alike site). */
  passkeyOrigin: 'passkey_origin_mismatch',
  /** Passkeys: the response was made for another relying party ID. */
  passkeyRpId: 'passkey_rp_id_mismatch',
  /** Passkeys: no such passkey (never registered here, or removed). */
  passkeyUnknown: 'passkey_unknown',
  /** Passkeys: the passkey belongs to another account than the session or the user handle names. */
  passkeyWrongUser: 'passkey_wrong_user',
  /** Passkeys: signature, user verification or signature counter check failed. */
  passkeyInvalid: 'passkey_invalid',
  /** Passkeys: this credential is already registered. */
  passkeyExists: 'passkey_exists'
} as const
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode]
export interface ApiError { error: ErrorCodeValue, message: string }

/** Names of documents owned by the identity layer. */
export const sessionDocName = (userId: string) => `session:${userId}`
export const draftDocName = (docId: string) => `draft:${docId}`

/** Admin API (`/admin/*`, admins only): an account as admins see it. */
export interface AdminUserInfo {
  id: string
  email: string
  createdAt: number
  admin: boolean
  mfaEnabled: boolean
  /** When an admin disabled the account; absent while it is enabled. */
  disabledAt?: number
}
/** `GET /admin/users?prefix=&after=&limit=`: `next` is the `after` of the next page, absent on the last. */
export interface AdminUserListResponse { users: AdminUserInfo[], next?: string }
/** A user's live device sessions; `online` counts this node's sockets. */
export interface AdminSessionInfo { id: string, deviceName: string, platform: string, userAgent: string, createdAt: number, lastSeenAt: number, lastIp: string, online: number }
export interface AdminSessionListResponse { sessions: AdminSessionInfo[] }

/** A stored security event (`GET /admin/security-events`): identifiers and a reason, never secrets. */
export interface SecurityEventInfo {
  /** Sorts by time; the `before` cursor of the next page. */
  id: string
  at: number
  kind: string
  userId?: string
  sessionId?: string
  ip?: string
  userAgent?: string
  reason?: string
  score?: number
  detail?: Record<string, string | number | boolean>
}
/** Newest first; `next` is the `before` of the next page, absent on the last. */
export interface SecurityEventListResponse { events: SecurityEventInfo[], next?: string }

/** One day of `GET /admin/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD&bucket=day`. */
export interface AnalyticsDay {
  /** `YYYY-MM-DD` (UTC). */
  date: string
  /** Distinct users with a socket open that day, in the 7 and the 30 days ending with it. */
  activeUsers: number
  weeklyActiveUsers: number
  monthlyActiveUsers: number
  /** Distinct device sessions with a socket open that day. */
  activeSessions: number
  /** activeSessions / activeUsers (0 without active users). */
  devicesPerUser: number
  sessionsStarted: number
  /** Sessions started that day by platform (web, ios, android, macos, windows, linux, node, tv, cli, other). */
  platforms: Record<string, number>
  sessionsEnded: number
  /** Sessions ended that day by reason (logout, revoked, expired, refresh_reuse, password_changed, admin, disabled). */
  endedByReason: Record<string, number>
  /** Mean duration of the sessions that ended that day (0 if none). */
  avgSessionMs: number
  /** Updates sent by devices that day, and per active session. */
  edits: number
  editsPerSession: number
  /** Devices taken over by another device of the same user within the hand-off window. */
  handoffs: number
}
export interface AnalyticsResponse { bucket: 'day', from: string, to: string, handoffWindowMs: number, days: AnalyticsDay[] }
