import type { FastifyRequest } from 'fastify'
import type { RequestContext } from '../identity/identity.js'

/**
 * The request as identity sees it. The URL a DPoP proof must name is the public origin (when the
 * server runs behind a proxy, `--public-url`) plus the path, without the query.
 */
export const requestContext = (req: FastifyRequest, publicUrl: string): RequestContext => {
  const origin = publicUrl || `${req.protocol}://${req.headers.host ?? 'localhost'}`
  const dpop = req.headers.dpop
  return {
    ip: req.ip,
    userAgent: String(req.headers['user-agent'] ?? ''),
    dpop: typeof dpop === 'string' ? dpop : undefined,
    method: req.method,
    url: origin + req.url.split('?')[0]
  }
}
