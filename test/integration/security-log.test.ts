import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { Writable } from 'node:stream'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { SecurityLog } from '../../server/identity/security-events.js'
import { createLogger } from '../../server/observe/logger.js'
import { LevelSessionStore } from '../../server/storage/level/session-store.js'
import type { SecurityEventRecord } from '../../server/storage/session-store.js'
import { signedInDevice, startIdentityServer, TestDevice } from '../helpers/identity.js'
import { tempDir, waitFor } from '../helpers/server.js'

describe('security events are stored', () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of closers.splice(0)) await c() })

  it('sign-in, a failed login and a logout are stored for the account, with address and reason, and reach listeners', async () => {
    const app = await startIdentityServer()
    closers.push(() => app.close())
    const log = app.identity!.identity.securityLog
    const heard: SecurityEventRecord[] = []
    log.onEvent(e => { heard.push(e) })
    const d = await signedInDevice(app.url)
    const userId = d.tokens.userId
    expect((await (await TestDevice.create(app.url, d.email)).login('wrong password, long enough')).status).toBe(401)
    expect((await d.api('POST', '/auth/logout')).status).toBe(204)
    const store = app.identity!.identity.store
    await waitFor(async () => (await store.securityEvents({ userId, kinds: ['logout'], limit: 1 })).length === 1, undefined, 'logout stored')
    const kinds = (await store.securityEvents({ userId, limit: 20 })).map(e => e.kind)
    expect(kinds).toEqual(['logout', 'login_failed', 'new_device', 'login_ok', 'register'])
    const [logout] = await store.securityEvents({ userId, kinds: ['logout'], limit: 1 })
    expect(logout).toMatchObject({ userId, sessionId: d.tokens.sessionId, ip: '127.0.0.1' })
    expect(heard.map(e => e.kind)).toContain('logout')
  })

  it('events without an account are logged and counted every time but stored once per kind and address per minute', async () => {
    const dir = await tempDir()
    const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' })
    closers.push(() => db.close())
    const store = new LevelSessionStore(db)
    const lines: string[] = []
    const logger = createLogger('info', new Writable({ write (chunk, _e, cb) { lines.push(String(chunk)); cb() } }))
    let now = 5_000_000_000_000
    const counted: string[] = []
    const log = new SecurityLog(store, logger, { inc: ({ kind }) => { counted.push(kind) } }, () => now)
    for (let i = 0; i < 50; i++) await log.record('rate_limited', { ip: '10.0.0.9', reason: 'login' })
    await log.record('rate_limited', { ip: '10.0.0.10', reason: 'login' })
    await log.record('login_failed', { ip: '10.0.0.9' })
    await log.record('login_failed', { ip: '10.0.0.9', userId: 'u1' })
    await log.record('login_failed', { ip: '10.0.0.9', userId: 'u1' })
    now += 60_000
    await log.record('rate_limited', { ip: '10.0.0.9', reason: 'login' })
    const stored = await store.securityEvents({ limit: 100 })
    expect(stored.map(e => `${e.kind} ${e.ip} ${e.userId ?? '-'}`).sort()).toEqual([
      'login_failed 10.0.0.9 -', 'login_failed 10.0.0.9 u1', 'login_failed 10.0.0.9 u1',
      'rate_limited 10.0.0.10 -', 'rate_limited 10.0.0.9 -', 'rate_limited 10.0.0.9 -'
    ])
    expect(counted.length).toBe(55)
    await waitFor(() => lines.length === 55, undefined, 'log lines')
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'security', kind: 'rate_limited', ip: '10.0.0.9', reason: 'login' })
  })

  it('a store that fails does not fail the recorder', async () => {
    const dir = await tempDir()
    const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' })
    const store = new LevelSessionStore(db)
    await db.open()
    await db.close()
    const log = new SecurityLog(store, createLogger('silent'))
    const heard: string[] = []
    log.onEvent(e => { heard.push(e.id) })
    const e = await log.record('logout', { userId: randomUUID() })
    expect(e.kind).toBe('logout')
    expect(heard).toEqual([])
  })
})
