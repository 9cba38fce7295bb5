import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, afterEach } from 'vitest'
import * as Y from 'yjs'
import type { AppOptions } from '../../server/app.js'
import type { ServerConfig } from '../../server/config.js'
import { decodeMessage, MessageType, SyncType } from '../../shared/protocol.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer } from '../helpers/server.js'
import { useTestDatabase } from '../storage/postgres.js'
import { REDIS_URL } from './nodes.js'


export type OpenNode = Awaited<ReturnType<typeof startServer>>

/**
 * For a test file: nodes of one cluster (one PostgreSQL database, one Redis key prefix), without
 * authentication (nodes.ts has nodes with identity); everything is closed after each test and the Redis keys removed after the file.
 */
export const openClusterFixtures = () => {
  const db = useTestDatabase()
  const prefix = `sync-test:${process.pid}:${randomBytes(4).toString('hex')}:`
  const nodes: OpenNode[] = []
  const clients: RawClient[] = []
  const redises: Redis[] = []
  let pool: pg.Pool | null = null
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate()
    for (const n of nodes.splice(0)) await n.close()
    for (const r of redises.splice(0)) await r.quit()
  })
  afterAll(async () => {
    await pool?.end()
    const redis = new Redis(REDIS_URL, { protocol: 2 })
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  return {
    prefix,
    get dbUrl () { return db.url },
    async node (overrides: Partial<ServerConfig> = {}, opts: AppOptions = {}): Promise<OpenNode> {
      const n = await startServer({ store: 'postgres', databaseUrl: db.url, redisUrl: REDIS_URL, redisPrefix: prefix, ...overrides }, opts)
      nodes.push(n)
      return n
    },
    client (node: OpenNode, doc: string): RawClient {
      const c = new RawClient(`${node.wsUrl}/${doc}`)
      clients.push(c)
      return c
    },
    /** Rows of the test database, on a pool of the test's own. */
    async rows<T extends pg.QueryResultRow = Record<string, unknown>> (sql: string, params: unknown[] = []): Promise<T[]> {
      pool ??= new pg.Pool({ connectionString: db.url, max: 2 })
      return (await pool.query<T>(sql, params)).rows
    },
    redis (): Redis {
      const r = new Redis(REDIS_URL, { protocol: 2 })
      redises.push(r)
      return r
    }
  }
}

/**
 * Update frames a client received that brought it nothing new (already had every part): what a node
 * that sends an update twice produces. Replays the client's frames in order on a fresh Y.Doc.
 */
export const redundantUpdates = (client: RawClient): number => {
  const replica = new Y.Doc()
  let redundant = 0
  for (const frame of client.received) {
    const msg = decodeMessage(frame)
    if (msg.type !== MessageType.sync || msg.syncType === SyncType.step1) continue
    const before = Y.encodeStateAsUpdate(replica)
    Y.applyUpdate(replica, msg.payload)
    if (msg.syncType === SyncType.update && Buffer.compare(before, Y.encodeStateAsUpdate(replica)) === 0) redundant++
  }
  return redundant
}
