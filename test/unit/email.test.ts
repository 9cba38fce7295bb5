import { describe, expect, it } from 'vitest'
import { canonicalEmail, validEmail } from '../../server/identity/email.js'

describe('email canonical form', () => {
  it('a lower-case ASCII address is its own canonical form (stored accounts keep their keys)', () => {
    for (const email of ['alice@example.com', 'first.last+tag@sub.example.co.uk', 'a_b-c@ex-ample.org', 'x@xn--bcher-kva.example', "o'neil@example.com", 'user@localhost']) {
      expect(canonicalEmail(email)).toBe(email)
    }
    expect(validEmail('first.last+tag@sub.example.co.uk')).toBe('first.last+tag@sub.example.co.uk')
  })

  it('is stable: the canonical form of a canonical form is itself, for every code point in the local part and the domain', () => {
    const unstable: string[] = []
    for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x30000 ? 1 : 97) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue
      const c = String.fromCodePoint(cp)
      for (const raw of [`a${c}b@example.com`, `ab@ex${c}ample.com`]) {
        const once = canonicalEmail(raw)
        if (canonicalEmail(once) !== once) unstable.push(cp.toString(16))
      }
    }
    expect(unstable).toEqual([])
  })

  it('refuses what no address contains, and folds what is the same address', () => {
    expect(() => validEmail('a\u200b@example.com')).toThrow(/invisible/)
    expect(() => validEmail('a b@example.com')).toThrow(/spaces/)
    expect(() => validEmail('a@example')).toThrow(/domain/)
    expect(validEmail(' \uFF21\uFF4C\uFF49\uFF43\uFF45@Example.COM ')).toBe('alice@example.com')
    expect(validEmail('Ren\u0065\u0301@b\u00fccher.example')).toBe('ren\u00e9@xn--bcher-kva.example')
  })
})
