import { afterEach, describe, expect, it } from 'vitest'
import { URI, type TOTP } from 'otpauth'
import { waitFor } from '../helpers/server.js'
import { fixture, PASSWORD, identityServer, newEmail as freshEmail } from './helpers.js'
import { ApiRequestError } from '../../client/index.js'

// The typed HTTP wrappers: shared drafts (and what access changes do to open sockets), MFA, errors.
const f = fixture()
afterEach(() => f.cleanup())

const identity = (o = {}) => identityServer(f, o)
const newEmail = () => freshEmail('sdk-api')

const signedIn = (s: Awaited<ReturnType<typeof identity>>, name: string, email = newEmail()) =>
  f.signedIn(s, { device: { name, platform: 'node' } }, email)

describe('sdk api', () => {
  it('shares a draft, syncs it, and stops a removed member without retry storms', async () => {
    const s = await identity()
    const alice = await signedIn(s, 'alice-laptop')
    const bob = await signedIn(s, 'bob-laptop')
    expect(await alice.api.me()).toMatchObject({ userId: alice.userId, email: alice.email, mfaEnabled: false, sessionId: alice.auth.sessionId })
    const draft = await alice.api.createDoc({ title: 'Plan' })
    expect(draft).toMatchObject({ title: 'Plan', role: 'owner', docName: `draft:${draft.id}` })
    await alice.api.addMember(draft.id, { email: bob.email, role: 'editor' })
    expect((await bob.api.listDocs()).docs.map(d => d.id)).toContain(draft.id)
    await alice.api.renameDoc(draft.id, { title: 'Plan B' })
    expect((await bob.api.getDoc(draft.id)).title).toBe('Plan B')

    const da = await alice.openDoc(draft.docName)
    const db = await bob.openDoc(draft.docName)
    await Promise.all([da.whenSynced(), db.whenSynced()])
    db.doc.getText('t').insert(0, 'from bob')
    await waitFor(() => da.doc.getText('t').toString() === 'from bob')

    const errors: Error[] = []
    db.on('error', e => errors.push(e))
    await alice.api.removeMember(draft.id, bob.userId!)
    // closed (access changed), reconnect refused 403: the handle stops with an error, not a loop
    await waitFor(() => errors.length > 0, 5000, 'removed member error')
    expect(db.status).toBe('offline')
    const statuses: string[] = []
    db.on('status', st => statuses.push(st))
    // A negative check with no event to wait for: a reconnect loop would change the status within its
    // first backoff step, which is shorter than this.
    await new Promise(r => setTimeout(r, 800))
    expect(statuses).toEqual([])
    await expect(bob.api.getDoc(draft.id)).rejects.toMatchObject({ status: 404 })
  })

  it('MFA: enroll, DPoP-bound verify with a recovery code, step-up for a sensitive action', async () => {
    const s = await identity()
    const a = await signedIn(s, 'phone')
    const { otpauthUri } = await a.api.enrollMfa()
    const totp = URI.parse(otpauthUri) as TOTP
    const { recoveryCodes } = await a.api.confirmMfa(totp.generate())
    expect(recoveryCodes.length).toBeGreaterThan(2)

    const b = await f.client(s, { device: { name: 'tablet', platform: 'node' } })
    const first = await b.login(a.email, PASSWORD)
    expect(first.mfaRequired).toBe(true)
    expect(b.signedIn).toBe(false)
    if (!first.mfaRequired) throw new Error('unreachable')
    await b.verifyMfa(first.mfaToken, recoveryCodes[0]!)
    expect(b.signedIn).toBe(true)
    const d = await b.openDoc(b.sessionDoc!)
    await d.whenSynced()

    // a's session never proved the second factor: sensitive actions need a step-up first
    const err = await a.api.disableMfa().catch(e => e)
    expect(err).toBeInstanceOf(ApiRequestError)
    expect(err).toMatchObject({ status: 403, code: 'step_up_required' })
    const before = a.auth.current!.accessToken
    await a.stepUp(recoveryCodes[2]!)
    expect(a.auth.current!.accessToken).not.toBe(before)
    await a.api.disableMfa()
    const c = await f.client(s)
    expect((await c.login(a.email, PASSWORD)).mfaRequired).toBe(false)
  })

  it('surfaces API errors as ApiRequestError with code and Retry-After', async () => {
    const s = await identity({ loginAttemptsPerAccount: 2 })
    const a = await signedIn(s, 'x')
    const c = await f.client(s)
    const wrong = () => c.login(a.email, 'not the password at all').then(() => { throw new Error('login succeeded') }, (e: ApiRequestError) => e)
    const e1 = await wrong()
    expect(e1).toMatchObject({ status: 401, code: 'invalid_credentials' })
    let limited: ApiRequestError | undefined
    for (let i = 0; i < 4 && !limited; i++) { const e = await wrong(); if (e.status === 429) limited = e }
    expect(limited).toMatchObject({ status: 429, code: 'rate_limited' })
    expect(limited!.retryAfterMs).toBeGreaterThan(0)
    const dup = await c.register(a.email, PASSWORD).catch(e => e)
    expect(dup).toMatchObject({ status: 409, code: 'email_taken' })
  })
})
