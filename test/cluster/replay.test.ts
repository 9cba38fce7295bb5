import { describe, expect, it } from 'vitest'
import { totpCode } from '../../server/identity/mfa.js'
import { PASSWORD } from '../helpers/identity.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, REDIS_URL } from './nodes.js'

const cluster = clusterFixtures()
const twoNodes = async () => {
  const redisPrefix = cluster.prefix()
  return { a: await cluster.node({ redisUrl: REDIS_URL, redisPrefix }), b: await cluster.node({ redisUrl: REDIS_URL, redisPrefix }) }
}

describe('cluster: single-use ids are shared', () => {
  it('a DPoP proof used on node A is refused on node B', async () => {
    const { a, b } = await twoNodes()
    const d = await ClusterDevice.make(a.url)
    expect((await d.register()).status).toBe(201)
    const body = { email: d.email, password: PASSWORD, device: { name: 'laptop', platform: 'node' } }
    const proof = await d.proof('POST', '/auth/login')
    expect((await d.withProof('/auth/login', body, proof)).status).toBe(200)
    d.baseUrl = b.url
    const replay = await d.withProof('/auth/login', body, proof)
    expect(replay.status).toBe(401)
    expect(replay.body).toMatchObject({ error: 'invalid_dpop_proof', message: expect.stringMatching(/already used/) })
    // A fresh proof is fine on B: the refusal was the replay, not the node.
    expect((await d.withProof('/auth/login', body)).status).toBe(200)
  })

  it('an MFA challenge completed on node A cannot be completed again on node B', async () => {
    const { a, b } = await twoNodes()
    const d = await ClusterDevice.signedIn(a.url)
    const { secret } = (await d.api('POST', '/auth/mfa/enroll')).body
    const confirm = await d.api('POST', '/auth/mfa/confirm', { code: totpCode(secret) })
    expect(confirm.status).toBe(200)
    const phone = await ClusterDevice.make(a.url, d.email, 'phone')
    const { mfaToken } = (await phone.login()).body
    expect((await phone.withProof('/auth/mfa/verify', { mfaToken, code: totpCode(secret, 1) })).status).toBe(200)
    phone.baseUrl = b.url
    // A valid second factor (an unused recovery code) with the spent challenge, on the other node.
    const again = await phone.withProof('/auth/mfa/verify', { mfaToken, code: confirm.body.recoveryCodes[0] })
    expect(again.status).toBe(401)
    expect(again.body.message).toMatch(/challenge already used/)
  })
})
