import { domainToASCII } from 'node:url'
import { ErrorCode } from '../../shared/api.js'
import { Failure } from '../errors.js'

/** RFC 5321's limit on an address in a mail path. */
export const MAX_EMAIL_LENGTH = 254

// Control, format (zero-width, bidi overrides), unassigned and private-use characters, and the other
// default-ignorable ones (variation selectors, Hangul fillers): invisible, or never part of an address.
const INVISIBLE = /[\p{C}\p{Default_Ignorable_Code_Point}]/u
const SPACE = /[\p{Z}\s]/u
const NON_ASCII = /[^\p{ASCII}]/u

const fold = (raw: string): string => raw.normalize('NFKC').trim().toLowerCase().normalize('NFKC')

// IDNA drops some invisible characters (U+200B) and refuses others: the checks see the folded form.
const withAsciiDomain = (email: string): string => {
  const at = email.lastIndexOf('@')
  const domain = email.slice(at + 1)
  if (at < 0 || !NON_ASCII.test(domain)) return email
  return email.slice(0, at + 1) + (domainToASCII(domain) || domain)
}

/**
 * The one spelling of an address that accounts are stored and looked up under: Unicode NFKC
 * (fullwidth letters, ligatures and decomposed accents fold to their plain forms), trimmed,
 * lower-cased, and a non-ASCII domain in its ASCII (IDNA/punycode) form, which also keeps look-alike
 * domains apart on screen. A lower-case ASCII address is its own canonical form. Never throws: sign-in
 * looks up whatever was typed.
 */
export const canonicalEmail = (raw: string): string => withAsciiDomain(fold(raw))

/**
 * The canonical form of an address a new account (or a share) may name; throws `invalid_email` for
 * invisible or control characters, whitespace inside, or anything but `name@domain.tld` with
 * non-empty labels.
 */
export const validEmail = (raw: string): string => {
  const folded = fold(raw)
  const refuse = (why: string) => new Failure(ErrorCode.invalidEmail, `email ${why}`)
  if (INVISIBLE.test(folded)) throw refuse('must not contain control or invisible characters')
  if (SPACE.test(folded)) throw refuse('must not contain spaces')
  const parts = folded.split('@')
  if (parts.length !== 2 || !parts[0]) throw refuse('must have the form name@example.com')
  const email = withAsciiDomain(folded)
  const domain = email.slice(email.lastIndexOf('@') + 1)
  const labels = domain.split('.')
  if (NON_ASCII.test(domain) || labels.length < 2 || labels.some(l => l === '')) throw refuse('domain must be a full domain name such as example.com')
  if (email.length > MAX_EMAIL_LENGTH) throw refuse(`must be at most ${MAX_EMAIL_LENGTH} characters`)
  return email
}
