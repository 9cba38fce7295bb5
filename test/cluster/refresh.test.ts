import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/server.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, REDIS_URL } from './nodes.js'

const cluster = clusterFixtures()

/** Statements of the nodes (application_name session-sync) waiting for a lock in the test database. */
const waitingOnLocks = async (client: pg.Client, database: string): Promise<number> => {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = $1 AND application_name = 'session-sync' AND wait_event_type = 'Lock'`, [database])
  return rows[0]!.n
}

describe('cluster: refresh-token rotation', () => {
  it('two nodes refreshing the same token at once hand out one successor; a later replay is still reuse', async () => {
    const redisPrefix = cluster.prefix()
    const a = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const b = await cluster.node({ redisUrl: REDIS_URL, redisPrefix })
    const d = await ClusterDevice.signedIn(a.url)
    const original = d.tokens.refreshToken
    const onB = await ClusterDevice.make(b.url, d.email)
    onB.key = d.key

    // Hold the session's row so that both refreshes have read the token and wait at the same point.
    const client = new pg.Client({ connectionString: cluster.db.url })
    await client.connect()
    let both: Array<Awaited<ReturnType<ClusterDevice['refresh']>>>
    try {
      await client.query('BEGIN')
      await client.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [d.tokens.sessionId])
      const racing = Promise.all([d.refresh(original), onB.refresh(original)])
      await waitFor(async () => await waitingOnLocks(client, cluster.db.name) >= 2, 10_000, 'both refreshes to wait on the session row')
      await client.query('COMMIT')
      both = await racing
    } finally {
      await client.end()
    }
    expect(both.map(r => r.status)).toEqual([200, 200])
    expect(both[0]!.body.refreshToken).toBe(both[1]!.body.refreshToken)
    expect(both[0]!.body.refreshToken).not.toBe(original)

    // The session lives on: its successor rotates as usual, on either node.
    d.baseUrl = b.url
    expect((await d.refresh(both[0]!.body.refreshToken)).status).toBe(200)
    // The original token, two rotations back, is now a copy: the session ends.
    d.baseUrl = a.url
    const replay = await d.refresh(original)
    expect(replay.status).toBe(401)
    expect(replay.body.error).toBe('refresh_token_reused')
    expect((await d.refresh()).body.error).toBe('session_ended')
  })
})
