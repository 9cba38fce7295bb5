import { isSessionEndReason, type ErrorCodeValue, type SessionEndReason as ServerEndReason } from '../shared/api.js'

/**
 * Why a device session is over: the server's reason (shared/api.ts: `logout`, `signed_out_elsewhere`,
 * `expired_idle`, `expired_absolute`, `password_changed`, `refresh_reuse`, `account_deleted`), or
 * `unknown` when the server gave none (an older server, a refresh token it does not know).
 */
export type SessionEndReason = ServerEndReason | 'unknown'

/** A non-2xx answer from the API, with the server's error code and, for 429, how long to wait. */
export class ApiRequestError extends Error {
  constructor (
    readonly status: number,
    readonly code: ErrorCodeValue | string,
    message: string,
    readonly retryAfterMs: number | null = null,
    /** With `session_ended` / `refresh_token_reused`: why, and whether the device is to wipe itself. */
    readonly ended: { reason?: string, wipe?: boolean } = {}
  ) {
    super(message)
    this.name = 'ApiRequestError'
  }
}

/** The request never got an HTTP answer (offline, DNS, reset): retry later, the session is intact. */
export class NetworkError extends Error {
  constructor (message: string, override readonly cause?: unknown) {
    super(message)
    this.name = 'NetworkError'
  }
}

/** The device session is over (logout, revocation, refresh reuse, expiry): sign in again. */
export class SessionEndedError extends Error {
  constructor (readonly reason: SessionEndReason | 'session_ended' | 'signed_out') {
    super(`session ended: ${reason}`)
    this.name = 'SessionEndedError'
  }
}

/** Error codes after which the device session cannot continue; everything else is retryable or local. */
export const SESSION_OVER_CODES = new Set<string>(['session_ended', 'refresh_token_reused'])
/** The reason a session-over error states. */
export const endReasonOf = (err: ApiRequestError): SessionEndReason =>
  isSessionEndReason(err.ended.reason) ? err.ended.reason : err.code === 'refresh_token_reused' ? 'refresh_reuse' : 'unknown'

export const isSessionOver = (err: unknown): boolean =>
  err instanceof SessionEndedError || (err instanceof ApiRequestError && err.status === 401 && SESSION_OVER_CODES.has(err.code))
