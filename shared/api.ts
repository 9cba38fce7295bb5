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
export interface MeResponse { userId: string, email: string, mfaEnabled: boolean, createdAt: number, sessionId: string }

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
  forbidden: 'forbidden',
  notFound: 'not_found',
  conflict: 'conflict',
  rateLimited: 'rate_limited',
  internal: 'internal'
} as const
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode]
export interface ApiError { error: ErrorCodeValue, message: string }

/** Names of documents owned by the identity layer. */
export const sessionDocName = (userId: string) => `session:${userId}`
export const draftDocName = (docId: string) => `draft:${docId}`
