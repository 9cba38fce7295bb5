import type { ErrorCodeValue } from '../shared/api.js'

/** A non-2xx answer from the API, with the server's error code and, for 429, how long to wait. */
export class ApiRequestError extends Error {
  constructor (
    readonly status: number,
    readonly code: ErrorCodeValue | string,
    message: string,
    readonly retryAfterMs: number | null = null
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
  constructor (readonly reason: string) {
    super(`session ended: ${reason}`)
    this.name = 'SessionEndedError'
  }
}

/** Error codes after which the device session cannot continue; everything else is retryable or local. */
export const SESSION_OVER_CODES = new Set<string>(['session_ended', 'refresh_token_reused'])
export const isSessionOver = (err: unknown): boolean =>
  err instanceof SessionEndedError || (err instanceof ApiRequestError && err.status === 401 && SESSION_OVER_CODES.has(err.code))
