import { createHash } from 'node:crypto'
import pg from 'pg'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DEVICE_CODE_GRANT_TYPE } from '../../shared/device-code.js'
import type { Res } from '../helpers/identity.js'
import { waitFor } from '../helpers/server.js'
import { ClusterDevice } from './device.js'
import { clusterFixtures, REDIS_URL } from './nodes.js'

const cluster = clusterFixtures()

/** The TV polls whichever node `url` names: behind a load balancer, each poll may land on another. */
const poll = (tv: ClusterDevice, url: string, deviceCode: string): Promise<Res> => {
  tv.baseUrl = url
  return tv.withProof('/auth/device/token', { grant_type: DEVICE_CODE_GRANT_TYPE, device_code: deviceCode })
}
const errorOf = (res: Res) => `${res.status} ${res.body?.error}`
const askCode = async (tv: ClusterDevice): Promise<string> => {
  const res = await tv.withProof('/auth/device/code', { device: { name: 'Living room TV', platform: 'tv' } })
  expect(res.status).toBe(200)
  return res.body.device_code
}

/** Statements of the nodes (application_name session-sync) waiting for a lock in the test database. */
const waitingOnLocks = async (client: pg.Client, database: string): Promise<number> => {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = $1 AND application_name = 'session-sync' AND wait_event_type = 'Lock'`, [database])
  return rows[0]!.n
}

describe('cluster: pairing a device by code', () => {
  afterEach(() => { vi.useRealTimers() })

  const twoNodes = async () => {
    const redisPrefix = cluster.prefix()
    return [await cluster.node({ redisUrl: REDIS_URL, redisPrefix }), await cluster.node({ redisUrl: REDIS_URL, redisPrefix })] as const
  }

  it('poll pacing holds across nodes: too fast on B after A is slow_down; waiting brings the interval back', async () => {
    // Both nodes run in this process: one faked clock stands for the cluster's synchronised clocks.
    vi.useFakeTimers({ toFake: ['Date'] })
    const at = (s: number) => vi.setSystemTime(Date.now() + s * 1000)
    const [a, b] = await twoNodes()
    const tv = await ClusterDevice.make(a.url, 'nobody@example.com', 'tv')
    const code = await askCode(tv)

    expect(errorOf(await poll(tv, a.url, code))).toBe('400 authorization_pending')
    const fast = await poll(tv, b.url, code)
    expect(errorOf(fast)).toBe('400 slow_down')
    expect(fast.body.message).toContain('10 s')
    at(5)
    const faster = await poll(tv, a.url, code) // 5 s < 10 s: now 15 s
    expect(errorOf(faster)).toBe('400 slow_down')
    expect(faster.body.message).toContain('15 s')
    at(15)
    expect(errorOf(await poll(tv, b.url, code))).toBe('400 authorization_pending') // waited: back to 10 s
    at(10)
    expect(errorOf(await poll(tv, a.url, code))).toBe('400 authorization_pending') // back to 5 s
    at(5)
    expect(errorOf(await poll(tv, b.url, code))).toBe('400 authorization_pending')
    at(1)
    const again = await poll(tv, a.url, code)
    expect(errorOf(again)).toBe('400 slow_down')
    expect(again.body.message).toContain('10 s')

    // Two polls at the same instant on two nodes: one of them is too fast.
    const other = await ClusterDevice.make(a.url, 'nobody@example.com', 'tv 2')
    const second = await askCode(other)
    const onA = await ClusterDevice.make(a.url, 'nobody@example.com', 'tv 2')
    const onB = await ClusterDevice.make(b.url, 'nobody@example.com', 'tv 2')
    onA.key = onB.key = other.key
    const both = await Promise.all([poll(onA, a.url, second), poll(onB, b.url, second)])
    expect(both.map(errorOf).sort()).toEqual(['400 authorization_pending', '400 slow_down'])
  })

  it('an approved device code redeemed on two nodes at once starts one session', async () => {
    const [a, b] = await twoNodes()
    const phone = await ClusterDevice.signedIn(a.url, 'phone')
    const tv = await ClusterDevice.make(a.url, 'nobody@example.com', 'tv')
    const tvOnB = await ClusterDevice.make(b.url, 'nobody@example.com', 'tv')
    tvOnB.key = tv.key
    const res = await tv.withProof('/auth/device/code', { device: { name: 'Living room TV', platform: 'tv' } })
    const code: string = res.body.device_code
    phone.baseUrl = b.url
    const approved = await phone.call('POST', '/auth/device/approve', { user_code: res.body.user_code },
      { authorization: `Bearer ${phone.tokens.accessToken}`, dpop: await phone.proof('POST', '/auth/device/approve') })
    expect(approved.status).toBe(200)

    // Hold the grant's row: both nodes have read the approval and wait to spend the code at the same point.
    const client = new pg.Client({ connectionString: cluster.db.url })
    await client.connect()
    let both: Res[]
    try {
      await client.query('BEGIN')
      await client.query('SELECT 1 FROM device_grants WHERE id = $1 FOR UPDATE', [createHash('sha256').update(code).digest('base64url')])
      const racing = Promise.all([poll(tv, a.url, code), poll(tvOnB, b.url, code)])
      await waitFor(async () => await waitingOnLocks(client, cluster.db.name) >= 2, 10_000, 'both redeems to wait on the grant row')
      await client.query('COMMIT')
      both = await racing
    } finally {
      await client.end()
    }
    expect(both.map(r => r.status).sort()).toEqual([200, 400])
    expect(both.find(r => r.status === 400)!.body.error).toBe('invalid_grant')
    const sessions = await phone.api('GET', '/sessions')
    expect(sessions.body.sessions.map((s: { deviceName: string }) => s.deviceName).sort()).toEqual(['Living room TV', 'phone'])
  })
})
