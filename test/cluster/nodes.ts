import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach } from 'vitest'
import type { ServerConfig } from '../../server/config.js'
import { startIdentityServer } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { tempDir } from '../helpers/server.js'
import { useTestDatabase } from '../storage/postgres.js'
import { TcpGate } from './tcp-gate.js'

/** The machine's Redis (.ci/run starts it); SYNC_TEST_REDIS_URL points the tests at another one. */
export const REDIS_URL = process.env.SYNC_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
/** The origin clients see in front of every node (a load balancer's): DPoP proofs name it. */
export const PUBLIC_URL = 'http://sync.cluster.test'

export type Node = Awaited<ReturnType<typeof startIdentityServer>>

/**
 * For a cluster test file: one PostgreSQL database, and nodes on it that share a Redis under a key
 * prefix of their own per `cluster()` (each test starts with empty Redis state). Each node has its own
 * data dir. Nodes, sockets and the file's Redis keys are removed afterwards.
 */
export const clusterFixtures = () => {
  const db = useTestDatabase()
  const filePrefix = `sync-test:${process.pid}:${randomBytes(4).toString('hex')}:`
  const nodes: Node[] = []
  const cleanups: Array<() => unknown> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c()
    for (const n of nodes.splice(0)) await n.close()
  })
  afterAll(async () => {
    const redis = new Redis(REDIS_URL, { protocol: 2 })
    const keys = await redis.keys(`${filePrefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  let n = 0
  const onCleanup = (fn: () => unknown) => { cleanups.push(fn) }
  return {
    db,
    onCleanup,
    /** A fresh key prefix for one cluster. */
    prefix: () => `${filePrefix}${n++}:`,
    /** A node on the file's database; `redisUrl` and `redisPrefix` as given (no Redis when omitted). */
    async node (overrides: Partial<ServerConfig> = {}): Promise<Node> {
      const node = await startIdentityServer({ store: 'postgres', databaseUrl: db.url, dataDir: await tempDir(), publicUrl: PUBLIC_URL, ...overrides })
      nodes.push(node)
      return node
    },
    /** Nodes A and B on one Redis, B's connections through a gate the test can cut and restore. */
    async nodesWithGate (overrides: Partial<ServerConfig> = {}): Promise<{ a: Node, b: Node, gate: TcpGate, redisPrefix: string }> {
      const redisPrefix = `${filePrefix}${n++}:`
      const target = new URL(REDIS_URL)
      const gate = await TcpGate.start({ host: target.hostname, port: Number(target.port || 6379) })
      const a = await this.node({ redisUrl: REDIS_URL, redisPrefix, ...overrides })
      const b = await this.node({ redisUrl: `redis://127.0.0.1:${gate.port}`, redisPrefix, ...overrides })
      // B goes before its gate does, with its connections back.
      onCleanup(async () => { gate.restore(); await b.close(); await gate.close() })
      return { a, b, gate, redisPrefix }
    },
    raw (url: string): RawClient {
      const c = new RawClient(url)
      onCleanup(() => c.ws.terminate())
      return c
    }
  }
}

/** Empties a cluster's session-event stream, as its retention running out would; resolves with the entries dropped. */
export const dropSessionEvents = async (redisPrefix: string): Promise<number> => {
  const redis = new Redis(REDIS_URL, { protocol: 2 })
  try {
    return await redis.xtrim(`${redisPrefix}sessions`, 'MAXLEN', 0)
  } finally {
    await redis.quit()
  }
}
