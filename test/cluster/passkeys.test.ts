import { describe, expect, it } from 'vitest'
import { MAX_PENDING_PER_IP } from '../../server/cluster/challenge-store.js'
import { SoftAuthenticator } from '../helpers/webauthn.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, PUBLIC_URL, REDIS_URL } from './nodes.js'

const cluster = clusterFixtures()

describe('cluster: passkey ceremonies', () => {
  it('a ceremony started on node A finishes on node B, once; an IP\'s open sign-in attempts are capped across nodes', async () => {
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const b = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const owner = await ClusterDevice.signedIn(a.url)
    const authn = new SoftAuthenticator(PUBLIC_URL)

    // Registration: options from A, the response to B (with a proof by the session's key).
    const options = await owner.api('POST', '/auth/passkeys/register/options')
    expect(options.status).toBe(200)
    owner.baseUrl = b.url
    const bound = async (path: string, body: unknown) =>
      owner.call('POST', path, body, { authorization: `Bearer ${owner.tokens.accessToken}`, dpop: await owner.proof('POST', path) })
    expect((await bound('/auth/passkeys/register', { response: authn.register(options.body) })).status).toBe(201)

    // Sign-in on a new device: options from B, the assertion to A; the same again is refused on B.
    const device = await ClusterDevice.make(b.url, 'unknown@example.com', 'passkey device')
    const begin = (await device.call('POST', '/auth/passkeys/login/options')).body
    const body = { attemptId: begin.attemptId, response: authn.assert(begin.options), device: { name: 'passkey device', platform: 'node' } }
    device.baseUrl = a.url
    const signedIn = await device.withProof('/auth/passkeys/login', body)
    expect(signedIn.status).toBe(200)
    expect(signedIn.body.accessToken).toEqual(expect.any(String))
    device.baseUrl = b.url
    expect((await device.withProof('/auth/passkeys/login', body)).body.error).toBe('passkey_challenge_invalid')

    // The oldest of an IP's open attempts goes when one more opens, whichever node opened them.
    const attempts = []
    for (let i = 0; i <= MAX_PENDING_PER_IP; i++) {
      device.baseUrl = i % 2 === 0 ? a.url : b.url
      attempts.push((await device.call('POST', '/auth/passkeys/login/options')).body)
    }
    const tryAttempt = (at: { attemptId: string, options: Parameters<SoftAuthenticator['assert']>[0] }) =>
      device.withProof('/auth/passkeys/login', { attemptId: at.attemptId, response: authn.assert(at.options), device: { name: 'x', platform: 'node' } })
    expect((await tryAttempt(attempts[0]!)).body.error).toBe('passkey_challenge_invalid')
    expect((await tryAttempt(attempts[1]!)).status).toBe(200)
  })
})
