/**
 * DPoP proofs (RFC 9449 shape) for the token endpoints: login, mfa/verify and refresh. The proof binds
 * a refresh token to the device key, so a stolen refresh token alone cannot be used elsewhere.
 * Uses only jose + WebCrypto so the same code runs in browsers and Node.
 */
import { SignJWT, type JWK } from 'jose'

/** The random proof id; `crypto.randomUUID` is global in browsers (secure contexts) and Node ≥ 19. */
const uuid = (): string => globalThis.crypto.randomUUID()

/** `htu` is the request URL without query or fragment (RFC 9449 §4.2). */
export const dpopHtu = (url: string): string => {
  const u = new URL(url)
  return `${u.origin}${u.pathname}`
}

export const createDpopProof = async (privateKey: CryptoKey, publicJwk: JWK, htm: string, htu: string): Promise<string> => {
  // Only the public members go into the header: never leak `d` even if a caller passes a private JWK.
  const { kty, crv, x, y } = publicJwk
  return new SignJWT({ htm: htm.toUpperCase(), htu: dpopHtu(htu), jti: uuid() })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })
    .setIssuedAt()
    .sign(privateKey)
}
