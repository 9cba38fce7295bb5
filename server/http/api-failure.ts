import { ErrorCode, type ErrorCodeValue } from '../../shared/api.js'
import { Failure } from '../errors.js'

/** The HTTP status of every error code. */
export const HTTP_STATUS: Record<ErrorCodeValue, 400 | 401 | 403 | 404 | 409 | 429 | 500> = {
  [ErrorCode.invalidRequest]: 400,
  [ErrorCode.invalidEmail]: 400,
  [ErrorCode.weakPassword]: 400,
  [ErrorCode.emailTaken]: 409,
  [ErrorCode.invalidCredentials]: 401,
  [ErrorCode.invalidMfaCode]: 401,
  [ErrorCode.mfaNotEnabled]: 409,
  [ErrorCode.mfaAlreadyEnabled]: 409,
  [ErrorCode.invalidToken]: 401,
  [ErrorCode.tokenExpired]: 401,
  [ErrorCode.sessionEnded]: 401,
  [ErrorCode.refreshReuse]: 401,
  [ErrorCode.invalidDpop]: 401,
  [ErrorCode.stepUpRequired]: 403,
  [ErrorCode.accountDisabled]: 403,
  [ErrorCode.forbidden]: 403,
  [ErrorCode.notFound]: 404,
  [ErrorCode.conflict]: 409,
  [ErrorCode.rateLimited]: 429,
  [ErrorCode.internal]: 500,
  // RFC 8628 §3.5 / RFC 6749 §5.2: token endpoint errors are 400.
  [ErrorCode.authorizationPending]: 400,
  [ErrorCode.slowDown]: 400,
  [ErrorCode.accessDenied]: 400,
  [ErrorCode.expiredToken]: 400,
  [ErrorCode.invalidGrant]: 400,
  [ErrorCode.invalidUserCode]: 400,
  [ErrorCode.passkeyChallenge]: 401,
  [ErrorCode.passkeyOrigin]: 401,
  [ErrorCode.passkeyRpId]: 401,
  [ErrorCode.passkeyUnknown]: 401,
  [ErrorCode.passkeyWrongUser]: 401,
  [ErrorCode.passkeyInvalid]: 401,
  [ErrorCode.passkeyExists]: 409
}

/**
 * Renders every error as `{error, message}`: a domain Failure with its code's status (and
 * `Retry-After` on 429), schema violations and unparsable bodies as 400 `invalid_request`, anything
 * else as a logged 500.
 */
export const apiErrorHandler = (err: Error & { validation?: unknown, statusCode?: number, code?: string }, req: { log: { error: (o: object, m: string) => void } }, reply: { code: (n: number) => unknown, header: (k: string, v: string) => unknown, send: (b: unknown) => unknown }) => {
  if (err instanceof Failure) {
    if (err.retryAfterS !== undefined) reply.header('retry-after', String(err.retryAfterS))
    reply.code(HTTP_STATUS[err.code])
    return reply.send({ error: err.code, message: err.message })
  }
  if (err.validation || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
    reply.code(err.statusCode === 413 ? 413 : 400)
    return reply.send({ error: ErrorCode.invalidRequest, message: err.message })
  }
  req.log.error({ err: err.message, stack: err.stack }, 'request failed')
  reply.code(500)
  return reply.send({ error: ErrorCode.internal, message: 'internal error' })
}
