import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useTestDatabase } from '../../../test/storage/postgres.js'
import { freePort, startCluster, type Cluster } from '../../../test/cluster/harness.js'
import { runLoad } from '../run.js'
import { allDevices, closeFleet, createFleet } from '../fleet.js'
import { RunStats } from '../run-stats.js'

/** `--urls`: the load tool spreads devices over the nodes of a cluster and fails over between them. */
const db = useTestDatabase()
let cluster: Cluster
beforeAll(async () => { cluster = await startCluster({ nodes: 3, databaseUrl: db.url }) }, 180_000)
afterAll(async () => { await cluster?.stop() }, 60_000)

const deadline = () => Date.now() + 120_000

describe('load tool --urls', () => {
  it('spreads the devices of each user over the nodes, and the convergence check passes', async () => {
    const urls = cluster.nodes.map(n => n.url)
    const connections: number[] = []
    const report = await runLoad({
      scenario: 'steady',
      serverPid: null,
      fleet: { target: urls[0]!, urls, users: 4, devicesPerUser: 3, mode: 'light', auth: 'api', runId: randomBytes(4).toString('hex'), loginConcurrency: 4 },
      scenarioOptions: {
        seconds: 2, rate: 5, offlineEdits: 0, history: 0, unloadWaitSeconds: 0, connectBatch: 50, deadline: deadline(), onProgress: () => {},
        beforeMeasure: async () => { for (const n of cluster.nodes) connections.push(await n.metric('sync_connections')) }
      }
    })
    // Three devices per user over three nodes: each node holds one device of every user.
    expect(connections).toEqual([4, 4, 4])
    expect(report.target).toBe(urls.join(','))
    expect(report.latencyMs.count).toBeGreaterThan(0)
    expect(report.convergence).toMatchObject({ lostEdits: 0, divergedDevices: 0, unreadableUsers: 0 })
    expect(report.convergence.editsMade).toBeGreaterThan(0)
  })

  it('a device whose node does not answer connects to the next node', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const live = cluster.nodes[1]!.url
    const stats = new RunStats()
    const users = await createFleet({ target: live, urls: [dead, live], users: 1, devicesPerUser: 1, mode: 'full', auth: 'api', runId: randomBytes(4).toString('hex'), loginConcurrency: 1 }, stats)
    try {
      const [device] = allDevices(users)
      expect(device!.nodeUrl).toBe(`${dead.replace('http', 'ws')}/sync`)
      await device!.connect()
      expect(device!.nodeUrl).toBe(`${live.replace('http', 'ws')}/sync`)
      expect(stats.reconnects).toBeGreaterThanOrEqual(1)
      expect(stats.closes.toJSON()).toMatchObject({ 1006: expect.any(Number) })
    } finally {
      closeFleet(users)
    }
  })
})
