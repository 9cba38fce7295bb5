import type { ErrorCodeValue } from '../../shared/api.js'

/** An expected failure with its HTTP status and stable `error` code; rendered as `{error, message}`. */
export class ApiFailure extends Error {
  constructor (readonly status: 400 | 401 | 403 | 404 | 409 | 429, readonly code: ErrorCodeValue, message: string, readonly retryAfterS?: number) {
    super(message)
  }
}

/**
 * Renders every error as `{error, message}`: ApiFailure with its status (and `Retry-After` on 429),
 * schema violations and unparsable bodies as 400 `invalid_request`, anything else as a logged 500.
 */
export const apiErrorHandler = (err: Error & { validation?: unknown, statusCode?: number, code?: string }, req: { log: { error: (o: object, m: string) => void } }, reply: { code: (n: number) => unknown, header: (k: string, v: string) => unknown, send: (b: unknown) => unknown }) => {
  if (err instanceof ApiFailure) {
    if (err.retryAfterS !== undefined) reply.header('retry-after', String(err.retryAfterS))
    reply.code(err.status)
    return reply.send({ error: err.code, message: err.message })
  }
  if (err.validation || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
    reply.code(err.statusCode === 413 ? 413 : 400)
    return reply.send({ error: 'invalid_request', message: err.message })
  }
  req.log.error({ err: err.message, stack: err.stack }, 'request failed')
  reply.code(500)
  return reply.send({ error: 'internal', message: 'internal error' })
}
