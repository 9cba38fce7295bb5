import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { RedisOnlineCounts } from '../../server/cluster/redis-online-counts.js'
import { createLogger } from '../../server/observe/logger.js'
import { SessionSockets, type SessionMember } from '../../server/sync/session-sockets.js'
import { waitFor } from '../helpers/server.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, REDIS_URL } from './nodes.js'
import { sessionDocUrl } from '../helpers/identity.js'

const cluster = clusterFixtures()

const member = (sessionId: string): SessionMember => ({ principal: { sessionId }, close () {} })

describe('cluster: online counts', () => {
  it('the session list on node A counts the sockets a device has open on node B', async () => {
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const b = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const laptop = await ClusterDevice.signedIn(a.url, 'laptop')
    const phone = await laptop.another(b.url, 'phone')
    const online = async () => {
      const list = await laptop.api('GET', '/sessions')
      return list.body.sessions.find((s: { id: string }) => s.id === phone.tokens.sessionId).online as number
    }
    expect(await online()).toBe(0)
    const first = cluster.raw(sessionDocUrl(b.wsUrl, phone))
    const second = cluster.raw(sessionDocUrl(b.wsUrl, phone))
    await waitFor(() => first.synced && second.synced, 5000, 'both sockets synced on B')
    await waitFor(async () => await online() === 2, 5000, 'A to count the two sockets on B')
    first.ws.close()
    await first.closed
    await waitFor(async () => await online() === 1, 5000, 'A to count one socket')
    second.ws.close()
    await second.closed
    await waitFor(async () => await online() === 0, 5000, 'A to count none')
  })

  it('a node that stops renewing its counts (crashed, cut off) stops counting once its ttl passes', async () => {
    const prefix = cluster.prefix()
    const logger = createLogger('silent')
    const conn = (name: string) => { const r = new Redis(REDIS_URL, { protocol: 2, connectionName: name, maxRetriesPerRequest: 1 }); r.on('error', () => {}); return r }
    const [deadConn, liveConn] = [conn('dead'), conn('live')]
    const [deadSockets, liveSockets] = [new SessionSockets(), new SessionSockets()]
    const dead = new RedisOnlineCounts(deadConn, deadSockets, { prefix, nodeId: 'dead', logger, ttlMs: 300 })
    const live = new RedisOnlineCounts(liveConn, liveSockets, { prefix, nodeId: 'live', logger, ttlMs: 300 })
    cluster.onCleanup(async () => {
      await dead.close()
      await live.close()
      deadConn.disconnect()
      await liveConn.quit()
    })
    deadSockets.add(member('s1'))
    deadSockets.add(member('s1'))
    liveSockets.add(member('s1'))
    await waitFor(async () => await live.count('s1') === 3, 5000, 'both nodes\' sockets counted')
    // Heartbeats keep a live node counted: three ttls later (time is the subject here) it still is.
    const since = Date.now()
    await waitFor(async () => Date.now() - since > 900 && await live.count('s1') === 3, 5000, 'still counted three ttls on')
    deadConn.disconnect()
    await waitFor(async () => await live.count('s1') === 1, 5000, 'the dead node\'s sockets to expire')
    expect(await liveConn.sismember(`${prefix}nodes`, 'dead')).toBe(0)
  })
})
