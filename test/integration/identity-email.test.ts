import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startIdentityServer, signedInDevice, TestDevice, PASSWORD } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>

/** ASCII letters and digits as their fullwidth forms (U+FF01..U+FF5E), which NFKC maps back. */
const fullwidth = (s: string) => s.replace(/[!-~]/g, c => String.fromCodePoint(c.codePointAt(0)! + 0xfee0))

describe('emails: one account per address, however it is spelled', () => {
  let app: Server
  beforeAll(async () => { app = await startIdentityServer({ loginAttemptsPerAccount: 3 }) })
  afterAll(() => app.close())

  const register = (email: string) => new TestDevice(app.url, email).register()
  const login = async (email: string, password = PASSWORD) => (await TestDevice.create(app.url, email)).login(password)

  it('fullwidth, upper-case, padded and NFKC-equivalent spellings are the address already taken, and each signs in', async () => {
    const name = `fiona-${randomUUID().slice(0, 8)}`
    expect((await register(`${name}@example.com`)).status).toBe(201)
    const spellings = [
      fullwidth(`${name}@example.com`),
      `  ${name.toUpperCase()}@EXAMPLE.COM\t`,
      `\uFB01${name.slice(2)}@example.com`, // the "ﬁ" ligature
      `${name}@ｅｘａｍｐｌｅ．ｃｏｍ`
    ]
    for (const email of spellings) {
      const again = await register(email)
      expect({ email, status: again.status, error: again.body.error }).toEqual({ email, status: 409, error: 'email_taken' })
      expect({ email, status: (await login(email)).status }).toEqual({ email, status: 200 })
    }
  })

  it('composed and decomposed accents are one address; the stored form is the composed one', async () => {
    const tag = randomUUID().slice(0, 8)
    const decomposed = `jose\u0301-${tag}@example.com`
    expect((await register(decomposed)).status).toBe(201)
    expect((await register(`jos\u00e9-${tag}@example.com`)).body.error).toBe('email_taken')
    const d = await TestDevice.create(app.url, `JOS\u00c9-${tag}@example.com`)
    expect((await d.login()).status).toBe(200)
    expect((await d.api('GET', '/me')).body.email).toBe(`jos\u00e9-${tag}@example.com`)
  })

  it('an internationalized domain and its ASCII (punycode) form are one address, stored in ASCII', async () => {
    const name = `idn-${randomUUID().slice(0, 8)}`
    expect((await register(`${name}@b\u00fccher.example`)).status).toBe(201)
    expect((await register(`${name}@xn--bcher-kva.example`)).body.error).toBe('email_taken')
    const d = await TestDevice.create(app.url, `${name}@B\u00dcCHER.example`)
    expect((await d.login()).status).toBe(200)
    expect((await d.api('GET', '/me')).body.email).toBe(`${name}@xn--bcher-kva.example`)
  })

  it('refuses invisible and control characters, inner whitespace and incomplete addresses with 400 invalid_email', async () => {
    const tag = randomUUID().slice(0, 8)
    const refused = [
      `ali\u200bce-${tag}@example.com`, // zero-width space
      `ali\u200cce-${tag}@example.com`, // zero-width non-joiner
      `ali\u200dce-${tag}@example.com`, // zero-width joiner
      `ali\u2060ce-${tag}@example.com`, // word joiner
      `ali\ufeffce-${tag}@example.com`, // zero-width no-break space
      `ali\u00adce-${tag}@example.com`, // soft hyphen
      `ali\u202ece-${tag}@example.com`, // right-to-left override
      `ali\u0007ce-${tag}@example.com`, // control character
      `alice-${tag}@exa\u200bmple.com`,
      `ali ce-${tag}@example.com`,
      `ali\u00a0ce-${tag}@example.com`, // no-break space
      `ali\u3000ce-${tag}@example.com`, // ideographic space
      `alice-${tag}@example .com`,
      `alice-${tag}@localhost`,
      `alice-${tag}@example..com`,
      `alice-${tag}@.example.com`,
      `alice-${tag}@example.com.`,
      `@example.com`,
      `alice-${tag}@`,
      `alice-${tag}`,
      `alice@${tag}@example.com`,
      `${'a'.repeat(250)}@example.com`
    ]
    for (const email of refused) {
      const res = await register(email)
      expect({ email, status: res.status, error: res.body.error }).toEqual({ email, status: 400, error: 'invalid_email' })
      expect(res.body.message).toMatch(/^email /)
    }
  })

  it('sign-in failures under any spelling spend the one account budget', async () => {
    const d = await signedInDevice(app.url, `budget-${randomUUID().slice(0, 8)}@example.com`)
    const variants = [d.email.toUpperCase(), fullwidth(d.email), ` ${d.email} `]
    for (const email of variants) expect((await login(email, 'wrong password here')).status).toBe(401)
    const limited = await login(d.email)
    expect(limited.status).toBe(429)
    expect(limited.body.error).toBe('rate_limited')
  })

  it('sharing a draft finds the account under another spelling', async () => {
    const owner = await signedInDevice(app.url)
    const member = await signedInDevice(app.url)
    const { id } = (await owner.api('POST', '/docs', { title: 'Shared' })).body
    const added = await owner.api('POST', `/docs/${id}/members`, { email: fullwidth(member.email).toUpperCase(), role: 'viewer' })
    expect(added.status).toBe(200)
    expect(added.body.members).toContainEqual({ userId: member.tokens.userId, email: member.email, role: 'viewer' })
    const invalid = await owner.api('POST', `/docs/${id}/members`, { email: `x\u200b${member.email}`, role: 'viewer' })
    expect(invalid.body.error).toBe('invalid_email')
  })
})
