import type { OnceCache } from '../cluster/once-cache.js'
import { jwtVerify, EmbeddedJWK, calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose'

/**
 * A proof's `iat` may be this many seconds from the server clock, either way. Proofs carry the
 * device's clock, which drifts more than a server's; RFC 9449 leaves the window to the server.
 */
export const DPOP_MAX_SKEW_S = 60

export class DpopError extends Error {}

/** How long a proof's `jti` is remembered: as long as the proof could still be fresh. */
const JTI_TTL_MS = 2 * DPOP_MAX_SKEW_S * 1000

/**
 * Verifies a DPoP proof (RFC 9449 §4.3) for `method url` and returns the JWK thumbprint of the key
 * that signed it. Checks: `typ: dpop+jwt`, an asymmetric `alg`, the embedded public `jwk`, the
 * signature, `htm`, `htu` (scheme, host and path; no query), `iat` within ±DPOP_MAX_SKEW_S, a never-seen `jti`
 * (claimed in `used`, which a cluster shares).
 */
export const verifyDpopProof = async (proof: string | undefined, method: string, url: string, used: OnceCache): Promise<string> => {
  if (!proof || typeof proof !== 'string') throw new DpopError('DPoP proof header missing')
  let header
  try { header = decodeProtectedHeader(proof) } catch { throw new DpopError('DPoP proof is not a JWT') }
  if (header.typ !== 'dpop+jwt') throw new DpopError('DPoP proof typ must be dpop+jwt')
  if (!header.jwk || typeof header.jwk !== 'object' || 'd' in header.jwk) throw new DpopError('DPoP proof needs a public jwk header')
  let payload
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] }))
  } catch {
    throw new DpopError('DPoP proof signature invalid')
  }
  if (payload.htm !== method) throw new DpopError('DPoP proof htm does not match the request method')
  if (typeof payload.htu !== 'string' || stripQuery(payload.htu) !== stripQuery(url)) throw new DpopError('DPoP proof htu does not match the request URL')
  const now = Math.floor(Date.now() / 1000)
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > DPOP_MAX_SKEW_S) throw new DpopError('DPoP proof is stale or from the future')
  if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 128) throw new DpopError('DPoP proof jti missing')
  if (!await used.claim('dpop', payload.jti, JTI_TTL_MS)) throw new DpopError('DPoP proof was already used')
  return calculateJwkThumbprint(header.jwk as JWK, 'sha256')
}

const stripQuery = (u: string): string => {
  try {
    const url = new URL(u)
    return `${url.protocol}//${url.host}${url.pathname}`
  } catch { return '' }
}
