import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../storage/postgres.js'
import { signedInDevice } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { waitFor } from '../helpers/server.js'
import { OwnPostgres, OwnRedis, startCluster, type Cluster, type ClusterNode } from './harness.js'
import { startOwnRedis } from './redis-server.js'
import { missingOnServer, steadyLoad, type ClusterLoad } from './load.js'

/**
 * Failures under steady load, over real processes. What "no acknowledged update lost" means here is
 * stronger than any acknowledgement: every edit any device made, including those it sent to a node in
 * the moment that node died, must end up on every device of its user and in the state a fresh device
 * reads from the cluster. y-websocket has no per-update ack; a device keeps its edits and sends what
 * the server lacks on every (re)connect (sync step 1/2), which is what brings those edits back.
 */
let cluster: Cluster | undefined
let load: ClusterLoad | undefined
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  load?.close(); load = undefined
  await cluster?.stop(); cluster = undefined
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
}, 60_000)

const database = async (): Promise<TestDatabase> => {
  const db = await createTestDatabase()
  cleanups.push(() => db.drop())
  return db
}

/** A draft of one account with a synced device on each of `nodes`, in order. */
const draftOnEveryNode = async (nodes: ClusterNode[], title: string): Promise<RawClient[]> => {
  const owner = await signedInDevice(nodes[0]!.url)
  const { docName } = (await owner.api('POST', '/docs', { title })).body
  const clients = nodes.map(n => {
    const s = new RawClient(`${n.wsUrl}/${docName}?token=${encodeURIComponent(owner.tokens.accessToken)}`)
    cleanups.push(async () => s.ws.terminate())
    return s
  })
  await waitFor(() => clients.every(c => c.synced), 10_000, 'a device synced on every node')
  return clients
}

/** Two nodes on a Redis of the test's own (stopped afterwards, resumed first if paused) and a draft synced on both. */
const twoNodesOnOwnRedis = async (title: string) => {
  const redis = await startOwnRedis()
  cleanups.push(async () => { redis.resume(); await redis.stop() })
  const db = await database()
  cluster = await startCluster({ nodes: 2, databaseUrl: db.url, redisUrl: redis.url })
  const [a] = cluster.nodes as [ClusterNode, ClusterNode]
  const [onA, onB] = await draftOnEveryNode(cluster.nodes, title) as [RawClient, RawClient]
  return { redis, a, onA, onB }
}

const expectConverged = (l: ClusterLoad) => {
  const c = l.result.convergence
  expect(c.editsMade).toBeGreaterThan(0)
  expect({ lost: c.lostEdits, diverged: c.divergedDevices, unreadable: c.unreadableUsers, examples: c.examples })
    .toEqual({ lost: 0, diverged: 0, unreadable: 0, examples: [] })
}

describe('cluster failures under load', () => {
  it('kill -9 of one node: its devices move to the others and no edit is lost', async () => {
    const db = await database()
    cluster = await startCluster({ nodes: 3, databaseUrl: db.url })
    const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
    load = await steadyLoad(cluster.nodes, { during: () => c.kill9() })
    expect(c.running).toBe(false)
    expect(load.stats.closes.toJSON()).toMatchObject({ 1006: expect.any(Number) })
    expectConverged(load)
    // And in PostgreSQL: the survivors shut down, one restarts, a fresh device reads every edit.
    load.close()
    await a.stop(); await b.stop()
    await a.restart()
    expect(await missingOnServer(a, load.users, load.stats)).toEqual([])
  }, 240_000)

  // Appends of several nodes to one document's log are all kept in PostgreSQL: nothing depends on
  // the snapshot a node writes when it unloads the document.
  it('kill -9 of every node after the devices converged: PostgreSQL holds every edit', async () => {
    const db = await database()
    cluster = await startCluster({ nodes: 3, databaseUrl: db.url })
    load = await steadyLoad(cluster.nodes, { seconds: 2 })
    expectConverged(load)
    load.close()
    for (const n of cluster.nodes) await n.kill9()
    await cluster.nodes[0]!.restart()
    expect(await missingOnServer(cluster.nodes[0]!, load.users, load.stats)).toEqual([])
  }, 240_000)

  it('Redis killed and restarted empty: every node logs it without the URL, reconnects, and edits cross nodes again', async () => {
    const redis = new OwnRedis()
    await redis.start()
    cleanups.push(() => redis.kill9())
    const db = await database()
    cluster = await startCluster({ nodes: 3, databaseUrl: db.url, redisUrl: redis.url })
    const [onA, onB, onC] = await draftOnEveryNode(cluster.nodes, 'Redis') as [RawClient, RawClient, RawClient]
    await redis.kill9()
    await waitFor(() => cluster!.nodes.every(n => /Redis connection failed; reconnecting/.test(n.logs.text())), 30_000, 'every node to log the lost connection')
    await redis.start()
    await waitFor(() => cluster!.nodes.every(n => /Redis connection is back/.test(n.logs.text())), 30_000, 'every node to reconnect')
    for (const n of cluster.nodes) expect(n.logs.text()).not.toContain(redis.url)
    onA.doc.getText('t').insert(0, 'after')
    await waitFor(() => onB.text() === 'after' && onC.text() === 'after', 20_000, 'an edit on A to reach B and C again')
  }, 240_000)

  // While Redis is away a node stores the updates it accepts but publishes none, and a node holding
  // the document answers its devices from memory: the edits cross only because every node republishes
  // the state of its documents when its connection is back.
  it('Redis restarted under load: edits made through every node during the outage reach every device', async () => {
    const redis = new OwnRedis()
    await redis.start()
    cleanups.push(() => redis.kill9())
    const db = await database()
    cluster = await startCluster({ nodes: 3, databaseUrl: db.url, redisUrl: redis.url })
    load = await steadyLoad(cluster.nodes, {
      seconds: 4,
      during: async stats => {
        await redis.kill9()
        // Edits from devices on every node while Redis is away (18 devices at 10 edits/s each).
        const sent = stats.editsSent
        await waitFor(() => stats.editsSent >= sent + 100, 20_000, 'edits during the outage')
        await redis.start()
      }
    })
    expectConverged(load)
  }, 240_000)

  // SIGSTOP: the connections stay open and Redis answers nothing. A node's appends fail after their
  // command timeout instead of waiting in its memory, and the node republishes once Redis answers.
  it('Redis that stops answering: appends fail within seconds, not held in memory; the edits cross once it answers', async () => {
    const { redis, a, onA, onB } = await twoNodesOnOwnRedis('Stalled')
    redis.pause()
    try {
      onA.doc.getText('t').insert(0, 'during')
      await waitFor(() => /could not publish updates to Redis/.test(a.logs.text()), 15_000, 'node A to give up on the append while Redis is stopped')
      expect(onB.text()).toBe('')
    } finally {
      redis.resume()
    }
    await waitFor(() => onB.text() === 'during', 20_000, 'the edit made during the stall to reach B')
    onA.doc.getText('t').insert(6, ' after')
    await waitFor(() => onB.text() === 'during after', 20_000, 'a later edit to reach B')
  }, 120_000)

  // Redis up and answering, but refusing the append (here: out of memory under noeviction). The
  // update is stored; its document's state goes out with the next call Redis accepts.
  it('an append Redis refuses goes out with the next one it accepts', async () => {
    const { redis, a, onA, onB } = await twoNodesOnOwnRedis('Refused')
    const admin = new Redis(redis.url, { protocol: 2 })
    cleanups.push(() => admin.quit())
    await admin.config('SET', 'maxmemory', '1')
    onA.doc.getText('t').insert(0, 'first')
    await waitFor(() => /could not publish updates to Redis/.test(a.logs.text()), 15_000, 'node A to log the refused append')
    await admin.config('SET', 'maxmemory', '0')
    onA.doc.getText('t').insert(5, ' second')
    // The second update builds on the first: B shows it only once the first has been sent again.
    await waitFor(() => onB.text() === 'first second', 20_000, 'both edits on B')
  }, 120_000)

  it('PostgreSQL crash-restarted under load: clear errors, retries, no edit lost', async () => {
    const pg = new OwnPostgres()
    cleanups.push(() => pg.destroy())
    await pg.init()
    const url = await pg.createDatabase()
    cluster = await startCluster({ nodes: 3, databaseUrl: url })
    load = await steadyLoad(cluster.nodes, { during: async () => { await pg.stopImmediate(); await pg.start() } })
    expectConverged(load)
    const logs = cluster.nodes.map(n => n.logs.text()).join('\n')
    expect(logs).toMatch(/storage batch failed, will retry|idle PostgreSQL connection lost/)
    // Edits are in PostgreSQL after the restart: the nodes shut down, one restarts, a fresh device reads them.
    load.close()
    for (const n of cluster.nodes) await n.stop()
    await cluster.nodes[0]!.restart()
    expect(await missingOnServer(cluster.nodes[0]!, load.users, load.stats)).toEqual([])
  }, 240_000)
})
