import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { startIdentityServer, signedInDevice, TestDevice, type Res } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startIdentityServer>>

const expectLimited = (res: Res, maxRetryAfterS: number) => {
  expect(res.status).toBe(429)
  expect(res.body.error).toBe('rate_limited')
  const retryAfter = Number(res.headers.get('retry-after'))
  expect(retryAfter).toBeGreaterThan(0)
  expect(retryAfter).toBeLessThanOrEqual(maxRetryAfterS)
}

describe('answers that tell whether an email has an account come slowly', () => {
  const servers: Server[] = []
  afterEach(async () => { for (const s of servers.splice(0)) await s.close() })
  const start = async (o: Parameters<typeof startIdentityServer>[0]) => { const s = await startIdentityServer(o); servers.push(s); return s }
  const email = (what: string) => `${what}-${randomUUID().slice(0, 8)}@example.com`

  it('registration: every attempt from an IP spends its hourly budget, a taken email included; then 429 with Retry-After', async () => {
    const app = await start({ registrationsPerIp: 3 })
    const register = (address: string, password?: string) => new TestDevice(app.url, address).register(password)
    const taken = email('taken')
    expect((await register(taken)).status).toBe(201)
    expect((await register(taken)).body.error).toBe('email_taken')
    // Refused input tells nothing about accounts and spends nothing.
    expect((await register('bad\u200b@example.com')).body.error).toBe('invalid_email')
    expect((await register(email('weak'), 'short')).body.error).toBe('weak_password')
    expect((await register(email('third'))).status).toBe(201)
    expectLimited(await register(email('fourth')), 3600)
    // With the budget spent, a taken email gets the same 429 as a new one: no answer either way.
    expectLimited(await register(taken), 3600)
    // Sign-in is not a registration: the account works.
    expect((await (await TestDevice.create(app.url, taken)).login()).status).toBe(200)
  })

  it('sharing by email: every addition spends the owner’s and the IP’s hourly budget, found or not; then 429', async () => {
    const app = await start({ memberAddsPerHour: 3 })
    const owner = await signedInDevice(app.url)
    const member = await signedInDevice(app.url)
    const { id } = (await owner.api('POST', '/docs', { title: 'Shared' })).body
    const share = (d: TestDevice, docId: string, address: string) => d.api('POST', `/docs/${docId}/members`, { email: address, role: 'viewer' })
    expect((await share(owner, id, member.email)).status).toBe(200)
    expect((await share(owner, id, email('nobody'))).status).toBe(404)
    // Not a valid address, or not the owner's draft: nothing is looked up, nothing is spent.
    expect((await share(owner, id, 'not-an-email')).body.error).toBe('invalid_email')
    expect((await share(member, id, email('nobody'))).status).toBe(403)
    expect((await share(owner, id, email('nobody'))).status).toBe(404)
    expectLimited(await share(owner, id, email('nobody')), 3600)
    expectLimited(await share(owner, id, member.email), 3600)
    // The IP's budget is spent too: another account from the same address gets no answer either.
    const other = await signedInDevice(app.url)
    const own = (await other.api('POST', '/docs', { title: 'Mine' })).body.id
    expectLimited(await share(other, own, member.email), 3600)
  })
})
