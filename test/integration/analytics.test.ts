import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { Analytics } from '../../server/analytics/analytics.js'
import { DAY_MS, isoDay } from '../../server/analytics/days.js'
import { createLogger } from '../../server/observe/logger.js'
import { createMetrics } from '../../server/observe/metrics.js'
import type { SessionRecord } from '../../server/storage/session-store.js'
import { encodeUpdate } from '../../shared/protocol.js'
import * as Y from 'yjs'
import { adminCall, grantAdmin } from '../helpers/admin.js'
import { closeCode, secondDevice, signedInDevice, syncRoundTrip } from '../helpers/identity.js'
import { startServer, waitFor } from '../helpers/server.js'
import { levelBackend, postgresBackend, type Backend, type Stores } from '../storage/backends.js'

const MIN = 60_000
const WINDOW = 30 * MIN

describe.each([levelBackend(), postgresBackend()] as Backend[])('analytics over a scripted day: $name', backend => {
  const open: Stores[] = []
  afterEach(async () => { for (const s of open.splice(0)) await s.close() })

  it('counts, derived figures, roll-up and retention are exactly right', async () => {
    const stores = await backend.open(await backend.place())
    open.push(stores)
    // A day far from other tests' (the PostgreSQL database is shared by this file's tests).
    const D = 30_000 + Math.floor(Math.random() * 10_000)
    let now = D * DAY_MS
    const clock = () => now
    const metrics = createMetrics()
    const analytics = new Analytics(stores.sessions, metrics, createLogger('silent'), { handoffWindowMs: WINDOW, retentionDays: 31, flushMs: MIN, now: clock })
    const u1 = randomUUID()
    const u2 = randomUUID()
    const session = (userId: string, platform: string, createdAt: number): SessionRecord => ({
      id: randomUUID(), userId, deviceName: platform, platform, userAgent: 't', createdAt, lastSeenAt: createdAt, lastIp: '127.0.0.1',
      jkt: 'k', amr: ['pwd'], refreshHash: randomUUID(), idleTimeoutMs: 1, absoluteExpiresAt: 1
    })
    const socket = (s: SessionRecord) => ({ principal: { userId: s.userId, sessionId: s.id }, edits: 0 })
    const at = (minutes: number) => { now = D * DAY_MS + minutes * MIN }

    // u1: a laptop session 09:00–10:00 with 7 edits, then a phone at 10:10 (hand-off) with 3 edits.
    at(9 * 60)
    const laptop = session(u1, 'macos', now)
    analytics.started(laptop)
    const s1 = socket(laptop)
    analytics.sockets.opened(s1)
    s1.edits = 7
    at(10 * 60)
    analytics.sockets.closed(s1)
    at(10 * 60 + 10)
    const phone = session(u1, 'iOS', now)
    analytics.started(phone)
    const s2 = socket(phone)
    analytics.sockets.opened(s2)
    s2.edits = 2
    at(10 * 60 + 20)
    await analytics.sockets.flush()
    s2.edits = 3
    at(10 * 60 + 30)
    analytics.sockets.closed(s2)
    // The laptop logs out at 11:00 (2 h after it started); the phone is ended by an admin at 12:00 (1 h 50 min).
    at(11 * 60)
    analytics.ended({ ...laptop, endedAt: now, endReason: 'logout' })
    at(12 * 60)
    analytics.ended({ ...phone, endedAt: now, endReason: 'signed_out_by_admin' })
    // u2: one web session, one socket still open at the end of the day, no edits.
    at(20 * 60)
    const web = session(u2, 'web', now)
    analytics.started(web)
    analytics.sockets.opened(socket(web))
    await analytics.sockets.settled()
    // Counts are written as they happen, each on its own (on PostgreSQL in any order): wait for the last ones.
    await waitFor(async () => {
      const values = (await stores.sessions.dailyFigures(D, D + 1))[0]?.values
      return values?.sessions_ended === 2 && values.sessions_started === 3 && values['platform:web'] === 1
    }, 20_000, 'counts stored')

    at(23 * 60)
    const [day] = await analytics.series(D, D + 1)
    const expected = {
      date: isoDay(D),
      activeUsers: 2, weeklyActiveUsers: 2, monthlyActiveUsers: 2, activeSessions: 3, devicesPerUser: 1.5,
      sessionsStarted: 3, platforms: { macos: 1, ios: 1, web: 1 },
      sessionsEnded: 2, endedByReason: { logout: 1, signed_out_by_admin: 1 }, avgSessionMs: (120 + 110) / 2 * MIN,
      edits: 10, editsPerSession: 10 / 3, handoffs: 1
    }
    expect(day).toEqual(expected)
    expect(await metrics.registry.getSingleMetricAsString('device_handoffs_total')).toMatch(/device_handoffs_total 1$/m)
    expect(await metrics.registry.getSingleMetricAsString('device_sessions_started_total')).toContain('device_sessions_started_total{platform="ios"} 1')

    // The next days: D is rolled up (two flushes past midnight) and still reads the same; the open socket keeps u2 active on D+1.
    at(24 * 60 + 1)
    await analytics.maintain()
    expect((await stores.sessions.dailyFigures(D, D + 1))[0]!.values.rolled_up).toBeUndefined()
    at(24 * 60 + 3)
    await analytics.maintain()
    expect((await stores.sessions.dailyFigures(D, D + 1))[0]!.values).toMatchObject({ rolled_up: 1, active_users: 2, handoffs: 1, active_sessions: 3 })
    const [d0, d1] = await analytics.series(D, D + 2)
    expect(d0).toEqual(expected)
    expect(d1).toMatchObject({ activeUsers: 1, weeklyActiveUsers: 2, monthlyActiveUsers: 2, activeSessions: 1, sessionsStarted: 0, edits: 0 })

    // 40 days later: the activity is gone (retention), the rolled-up day keeps its figures.
    await analytics.stop()
    now = (D + 40) * DAY_MS
    await analytics.maintain()
    expect(await stores.sessions.activityBetween(D * DAY_MS - DAY_MS, (D + 2) * DAY_MS, 100)).toEqual([])
    expect((await analytics.series(D, D + 1))[0]).toEqual(expected)
  })
})

describe('analytics from real sessions, over HTTP', () => {
  const servers: Array<Awaited<ReturnType<typeof startServer>>> = []
  afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

  it('sessions, platforms, edits, hand-offs and end reasons of real devices reach GET /admin/analytics and /metrics', async () => {
    const app = await startServer({ insecureNoAuth: false })
    servers.push(app)
    const admin = await signedInDevice(app.url)
    await grantAdmin(app, admin.email)
    const laptop = await signedInDevice(app.url, undefined, 'laptop')
    const ws = await laptop.socket(laptop.tokens.sessionDoc)
    const doc = new Y.Doc()
    doc.on('update', (u: Uint8Array) => ws.send(encodeUpdate(u)))
    for (let i = 0; i < 5; i++) doc.getText('t').insert(0, 'x')
    await syncRoundTrip(ws)
    const phone = await secondDevice(laptop, 'phone')
    const ws2 = await phone.socket(phone.tokens.sessionDoc)
    const closed = [closeCode(ws), closeCode(ws2)]
    expect((await adminCall(admin, 'POST', `/admin/users/${laptop.tokens.userId}/logout`)).body).toEqual({ ended: 2 })
    await Promise.all(closed)

    const today = isoDay(Math.floor(Date.now() / DAY_MS))
    let day: Record<string, unknown> = {}
    await waitFor(async () => {
      const res = await adminCall(admin, 'GET', `/admin/analytics?from=${today}&to=${today}&bucket=day`)
      day = res.body.days[0]
      return day.edits === 5 && day.sessionsEnded === 2
    }, 20_000, 'the figures of the closed sockets')
    expect(day).toMatchObject({
      date: today, activeUsers: 1, activeSessions: 2, devicesPerUser: 2, sessionsStarted: 3, platforms: { node: 3 },
      sessionsEnded: 2, endedByReason: { signed_out_by_admin: 2 }, edits: 5, editsPerSession: 2.5, handoffs: 1
    })
    const metrics = await (await fetch(`${app.url}/metrics`)).text()
    expect(metrics).toContain('device_sessions_ended_total{reason="signed_out_by_admin"} 2')
    expect(metrics).toContain('device_handoffs_total 1')
    expect(metrics).toMatch(/^device_sockets_online 0$/m)
    const bad = await adminCall(admin, 'GET', '/admin/analytics?from=2026-12-08&to=2026-12-01')
    expect(bad.status).toBe(400)
    expect((await adminCall(admin, 'GET', '/admin/analytics?from=2020-01-01&to=2026-01-01')).status).toBe(400)
    expect((await adminCall(admin, 'GET', '/admin/analytics?bucket=week')).status).toBe(400)
  })
})
