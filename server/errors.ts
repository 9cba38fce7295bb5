import type { ErrorCodeValue, SessionEndReason } from '../shared/api.js'

/**
 * An expected failure of a domain operation (identity, access): a stable code from shared/api.ts and
 * a message meant for the caller, which never holds a secret. `retryAfterS` comes with `rate_limited`.
 * Each transport picks its own status for a code (HTTP: server/http/api-failure.ts).
 */
export class Failure extends Error {
  constructor (readonly code: ErrorCodeValue, message: string, readonly retryAfterS?: number, readonly ended?: SessionEnd) {
    super(message)
  }
}

/** Why a device session is over, carried by `session_ended` / `refresh_token_reused` failures. */
export interface SessionEnd { reason: SessionEndReason, wipe?: boolean }
