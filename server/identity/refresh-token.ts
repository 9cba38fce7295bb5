import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/** Opaque refresh tokens: 256 random bits, base64url. Only their SHA-256 is stored. */
export const newRefreshToken = (): string => randomBytes(32).toString('base64url')

// A fast hash is right here: the token has 256 bits of entropy, so there is nothing to brute-force.
export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('base64url')

const sealKey = (token: string) => createHash('sha256').update('refresh-successor\0').update(token).digest()

/**
 * Seals a rotated token's successor with the rotated token itself. The database then holds nothing
 * usable, yet a legitimate client retrying the *same* refresh within the grace window (its first
 * response was lost) can be given the *same* successor instead of tripping reuse detection.
 */
export const sealSuccessor = (rotated: string, successor: string): string => {
  const iv = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', sealKey(rotated), iv)
  const body = Buffer.concat([c.update(successor, 'utf8'), c.final()])
  return Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url')
}

export const unsealSuccessor = (rotated: string, sealed: string): string | null => {
  try {
    const buf = Buffer.from(sealed, 'base64url')
    const d = createDecipheriv('aes-256-gcm', sealKey(rotated), buf.subarray(0, 12))
    d.setAuthTag(buf.subarray(buf.length - 16))
    return Buffer.concat([d.update(buf.subarray(12, buf.length - 16)), d.final()]).toString('utf8')
  } catch { return null }
}
