import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { PASSWORD } from '../helpers/identity.js'
import { waitFor } from '../helpers/server.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, REDIS_URL, type Node } from './nodes.js'
import { startOwnRedis } from './redis-server.js'

const cluster = clusterFixtures()

/**
 * A new account on nodes allowing 3 failed sign-ins: 3 wrong passwords through A, B, A spend its
 * budget, so even the right password gets 429 from B.
 */
const spendsOneLoginBudget = async (a: Node, b: Node) => {
  const d = await ClusterDevice.make(a.url)
  expect((await d.register()).status).toBe(201)
  for (const node of [a, b, a]) {
    d.baseUrl = node.url
    expect((await d.login('wrong password, wrong')).status).toBe(401)
  }
  d.baseUrl = b.url
  expect((await d.login(PASSWORD)).status).toBe(429)
}

describe('cluster: rate limits hold across nodes', () => {
  it('the hourly registration budget of an IP is one budget for all nodes', async () => {
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix, registrationsPerIp: 2 })
    const b = await cluster.node({ redisUrl: REDIS_URL, redisPrefix, registrationsPerIp: 2 })
    expect((await (await ClusterDevice.make(a.url)).register()).status).toBe(201)
    expect((await (await ClusterDevice.make(b.url)).register()).status).toBe(201)
    for (const node of [a, b]) {
      const refused = await (await ClusterDevice.make(node.url)).register()
      expect(refused.status).toBe(429)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    }
  })

  it('failed sign-ins count against the account on every node', async () => {
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix, loginAttemptsPerAccount: 3 })
    const b = await cluster.node({ redisUrl: REDIS_URL, redisPrefix, loginAttemptsPerAccount: 3 })
    await spendsOneLoginBudget(a, b)
  })

  it('while Redis is down each node limits on its own, and refuses nothing for the outage', async () => {
    const redis = await startOwnRedis()
    cluster.onCleanup(() => redis.stop())
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: redis.url, redisPrefix, registrationsPerIp: 2 })
    const b = await cluster.node({ redisUrl: redis.url, redisPrefix, registrationsPerIp: 2 })
    expect((await (await ClusterDevice.make(a.url)).register()).status).toBe(201)
    await redis.stop()
    // Node A's own count starts afresh in memory; B's too.
    expect((await (await ClusterDevice.make(a.url)).register()).status).toBe(201)
    expect((await (await ClusterDevice.make(a.url)).register()).status).toBe(201)
    expect((await (await ClusterDevice.make(a.url)).register()).status).toBe(429)
    const onB = await ClusterDevice.signedIn(b.url)
    expect(onB.tokens.accessToken).toEqual(expect.any(String))
  })

  it('while Redis stops answering (connections open), sign-ins are answered from each node\'s own counts; then shared again', async () => {
    const redis = await startOwnRedis()
    cluster.onCleanup(() => redis.stop())
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: redis.url, redisPrefix, loginAttemptsPerAccount: 3 })
    const b = await cluster.node({ redisUrl: redis.url, redisPrefix, loginAttemptsPerAccount: 3 })
    const d = await ClusterDevice.signedIn(a.url)
    redis.pause()
    // Answered, not left waiting on Redis: a sign-in, and passkey options (the challenge kept on B).
    expect((await d.login()).status).toBe(200)
    const device = await ClusterDevice.make(b.url, 'unknown@example.com')
    expect((await device.call('POST', '/auth/passkeys/login/options')).status).toBe(200)
    // Each node counts on its own meanwhile.
    for (const node of [a, a, b]) {
      d.baseUrl = node.url
      expect((await d.login('wrong password, wrong')).status).toBe(401)
    }
    d.baseUrl = a.url
    expect((await d.login('wrong password, wrong')).status).toBe(401)
    expect((await d.login(PASSWORD)).status).toBe(429)

    // Once Redis answers and both nodes' state connections are ready again (they ping), budgets are shared.
    redis.resume()
    const probe = new Redis(redis.url, { protocol: 2 })
    cluster.onCleanup(() => probe.quit())
    const pinging = async () => {
      const list = String(await probe.client('LIST'))
      return list.split('\n').filter(l => l.includes('name=sync-state') && l.includes('cmd=ping')).length
    }
    await waitFor(async () => await pinging() === 2, 10_000, 'both nodes\' state connections ready')
    await spendsOneLoginBudget(a, b)
  })
})
