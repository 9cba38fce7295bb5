import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'

export const TOTP_ISSUER = 'Session Sync'

const totp = (secretBase32: string, label = 'account') =>
  new TOTP({ issuer: TOTP_ISSUER, label, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secretBase32) })

export const newTotpSecret = (email: string): { secret: string, otpauthUri: string } => {
  const secret = new Secret({ size: 20 }).base32
  return { secret, otpauthUri: totp(secret, email).toString() }
}

/**
 * The time step a code belongs to (±1 step for clock drift), or null. Callers remember the last
 * accepted step so one code cannot be used twice.
 */
export const totpStep = (secretBase32: string, code: string): number | null => {
  if (!/^\d{6}$/.test(code)) return null
  const delta = totp(secretBase32).validate({ token: code, window: 1 })
  return delta === null ? null : Math.floor(Date.now() / 30_000) + delta
}

/** The code of the time step `offset` steps from now (tests use the next steps: each is accepted once). */
export const totpCode = (secretBase32: string, offset = 0): string => totp(secretBase32).generate({ timestamp: Date.now() + offset * 30_000 })

/** Ten single-use recovery codes `xxxxx-xxxxx`; only their hashes are stored. */
export const newRecoveryCodes = (): string[] =>
  Array.from({ length: 10 }, () => {
    const s = randomBytes(8).toString('hex').slice(0, 10)
    return `${s.slice(0, 5)}-${s.slice(5)}`
  })

// Recovery codes carry ~40 bits and are single use and rate limited: a fast hash is enough.
export const hashRecoveryCode = (code: string): string =>
  createHash('sha256').update(code.trim().toLowerCase()).digest('base64url')

export const sameHash = (a: string, b: string): boolean =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
