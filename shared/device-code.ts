/**
 * The device authorization grant (RFC 8628) as server and SDK both speak it: the grant type, the
 * polling step and the user-code codec.
 */

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'

/** The polling interval a device starts with, and what each `slow_down` adds to it (RFC 8628 §3.5), in seconds. */
export const DEVICE_POLL_INTERVAL_S = 5

/**
 * RFC 8628 §6.1: consonants only (no vowels, so no words; no look-alike digits), 8 characters:
 * 20^8 ≈ 2^34.6 codes. Shown as `XXXX-XXXX`.
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
export const USER_CODE_LENGTH = 8

/**
 * What a person typed, in canonical form (8 upper-case letters of the alphabet), or null when it
 * cannot be a user code. Case does not matter; hyphens and spaces are ignored.
 */
export const normalizeUserCode = (input: string): string | null => {
  if (typeof input !== 'string' || input.length > 32) return null
  const s = input.toUpperCase().replace(/[\s-]/g, '')
  if (s.length !== USER_CODE_LENGTH) return null
  for (const ch of s) if (!USER_CODE_ALPHABET.includes(ch)) return null
  return s
}

/** `BCDFGHJK` → `BCDF-GHJK`. */
export const formatUserCode = (canonical: string): string =>
  `${canonical.slice(0, USER_CODE_LENGTH / 2)}-${canonical.slice(USER_CODE_LENGTH / 2)}`
