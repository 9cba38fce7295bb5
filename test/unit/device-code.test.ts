import { describe, expect, it } from 'vitest'
import { USER_CODE_ALPHABET, USER_CODE_LENGTH, formatUserCode, normalizeUserCode } from '../../shared/device-code.js'
import { newUserCode } from '../../server/identity/pairing.js'

describe('user codes (RFC 8628 §6.1)', () => {
  it('use 20 consonants, 8 of them: about 34.5 bits', () => {
    expect(new Set(USER_CODE_ALPHABET).size).toBe(20)
    expect(USER_CODE_ALPHABET).not.toMatch(/[AEIOUY0-9]/)
    expect(USER_CODE_LENGTH * Math.log2(USER_CODE_ALPHABET.length)).toBeGreaterThan(34.5)
  })

  it('are drawn from the whole alphabet', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const code = newUserCode()
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/)
      for (const ch of code) seen.add(ch)
    }
    expect(seen.size).toBe(20)
  })

  it('read what a person typed: any case, hyphens and spaces ignored', () => {
    expect(normalizeUserCode('WDJB-MJHT')).toBe('WDJBMJHT')
    expect(normalizeUserCode('wdjb-mjht')).toBe('WDJBMJHT')
    expect(normalizeUserCode(' wdjb mjht ')).toBe('WDJBMJHT')
    expect(normalizeUserCode('W-D-J-B-M-J-H-T')).toBe('WDJBMJHT')
    expect(formatUserCode('WDJBMJHT')).toBe('WDJB-MJHT')
  })

  it('refuse anything else', () => {
    for (const s of ['', 'WDJB-MJH', 'WDJB-MJHTX', 'WDJB-MJH1', 'AEIO-UBCD', 'WDJB_MJHT', 'ẄDJB-MJHT', 'x'.repeat(40)]) {
      expect(normalizeUserCode(s), s).toBeNull()
    }
    expect(normalizeUserCode(42 as unknown as string)).toBeNull()
  })
})
