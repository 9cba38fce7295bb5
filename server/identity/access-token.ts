import { randomUUID } from 'node:crypto'
import { SignJWT, jwtVerify, decodeProtectedHeader, errors } from 'jose'
import type { KeyRing } from './keys.js'

export const ISSUER = 'session-sync'
export const AUDIENCE = 'session-sync-api'
/** The second factor counts for sensitive actions this long after it was proven. */
export const STEP_UP_WINDOW_S = 10 * 60
/**
 * Seconds a token's `exp`, `nbf` and `iat` may be off: the signing and the checking clock are
 * servers' (NTP keeps them within a second or two), so a small margin covers them.
 */
export const CLOCK_TOLERANCE_S = 5

export interface AccessClaims {
  sub: string
  sid: string
  jti: string
  iat: number
  exp: number
  /**
   * How this session signed in: `pwd` (password), `hwk` (passkey with user verification) or `pair`
   * (approved by another device); plus `otp` or `hwk` once a second factor was proven.
   */
  amr: string[]
  /** When the second factor was last proven (seconds), for step-up checks. */
  mfa_time?: number
}

export class TokenError extends Error {
  constructor (readonly code: 'invalid_token' | 'token_expired', message: string) { super(message) }
}

/** Signs and verifies access tokens and short-lived purpose tokens (the MFA challenge). */
export class AccessTokens {
  constructor (private readonly keys: KeyRing, readonly ttlMs: number) {}

  async issue (c: { sub: string, sid: string, amr: string[], mfaTime?: number }): Promise<{ token: string, expiresAt: number }> {
    const iat = Math.floor(Date.now() / 1000)
    // Rounded up: a token never lives shorter than configured (JWT times are whole seconds).
    const exp = Math.ceil((Date.now() + this.ttlMs) / 1000)
    const key = this.keys.active
    const token = await new SignJWT({ sid: c.sid, amr: c.amr, ...(c.mfaTime ? { mfa_time: c.mfaTime } : {}) })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(c.sub)
      .setIssuedAt(iat).setNotBefore(iat).setExpirationTime(exp).setJti(randomUUID())
      .sign(key.privateKey)
    return { token, expiresAt: exp * 1000 }
  }

  /** Rejects `alg: none`, HS*, unknown `kid`, wrong iss/aud/typ, tampering, not-yet-valid and expired tokens. */
  verify (token: string): Promise<AccessClaims> { return this.verifyTyped(token, 'at+jwt', AUDIENCE) as unknown as Promise<AccessClaims> }

  /** A signed token for one purpose (`aud`), e.g. the 5-minute MFA challenge after a correct password. */
  async issuePurpose (purpose: string, claims: Record<string, unknown>, ttlMs: number): Promise<string> {
    const key = this.keys.active
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'purpose+jwt' })
      .setIssuer(ISSUER).setAudience(purpose).setIssuedAt()
      .setExpirationTime(Math.floor((Date.now() + ttlMs) / 1000)).setJti(randomUUID())
      .sign(key.privateKey)
  }

  verifyPurpose (token: string, purpose: string): Promise<Record<string, unknown>> { return this.verifyTyped(token, 'purpose+jwt', purpose) }

  private async verifyTyped (token: string, typ: string, audience: string): Promise<Record<string, unknown>> {
    let kid: string | undefined
    try { kid = decodeProtectedHeader(token).kid } catch { throw new TokenError('invalid_token', 'malformed token') }
    const key = await this.keys.findKid(kid)
    if (!key) throw new TokenError('invalid_token', 'unknown signing key')
    try {
      // `algorithms` pins EdDSA: `none` and HS256-with-the-public-key are refused before any crypto.
      const { payload } = await jwtVerify(token, key.publicKey, { algorithms: ['EdDSA'], issuer: ISSUER, audience, typ, clockTolerance: CLOCK_TOLERANCE_S })
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_TOLERANCE_S) throw new TokenError('invalid_token', 'token issued in the future')
      return payload as Record<string, unknown>
    } catch (err) {
      if (err instanceof TokenError) throw err
      if (err instanceof errors.JWTExpired) throw new TokenError('token_expired', 'token expired')
      throw new TokenError('invalid_token', 'token rejected')
    }
  }
}
