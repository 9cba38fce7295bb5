import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../server/config.js'
import { AccessTokens } from '../../server/identity/access-token.js'
import { SecurityLog } from '../../server/identity/security-events.js'
import { Identity, type Authed, type RequestContext } from '../../server/identity/identity.js'
import { KeyRing } from '../../server/identity/keys.js'
import { createLogger } from '../../server/observe/logger.js'
import { LevelSessionStore } from '../../server/storage/level/session-store.js'
import type { SessionRecord } from '../../server/storage/session-store.js'
import { tempDir } from '../helpers/server.js'

/** The real LevelDB store, except that one armed `putSession` waits at the door until released. */
class GatedStore extends LevelSessionStore {
  private gate?: { reached: () => void, open: Promise<void> }

  /** Holds the next `putSession`; `reached` settles when it arrives, `release` lets it through. */
  holdNextPut (): { reached: Promise<void>, release: () => void } {
    let reached!: () => void
    let release!: () => void
    const reachedP = new Promise<void>(resolve => { reached = resolve })
    const open = new Promise<void>(resolve => { release = resolve })
    this.gate = { reached, open }
    return { reached: reachedP, release }
  }

  override async putSession (s: SessionRecord): Promise<void> {
    const gate = this.gate
    if (gate) {
      this.gate = undefined
      const copy = structuredClone(s)
      gate.reached()
      await gate.open
      return super.putSession(copy)
    }
    return super.putSession(s)
  }
}

describe('session record writes', () => {
  const dbs: Level<string, Uint8Array>[] = []
  afterEach(async () => { for (const db of dbs.splice(0)) await db.close() })

  const setup = async () => {
    const dir = await tempDir()
    const db = new Level<string, Uint8Array>(path.join(dir, 'db'), { valueEncoding: 'view' })
    dbs.push(db)
    const config = { ...loadConfig([], {}), dataDir: dir }
    const store = new GatedStore(db)
    const ended: string[] = []
    const logger = createLogger('silent')
    const identity = new Identity(store, new AccessTokens(await KeyRing.open(dir), config.accessTokenTtlMs), config, logger,
      sessionId => { ended.push(sessionId) }, () => 0, new SecurityLog(store, logger))
    const now = Date.now()
    const session: SessionRecord = {
      id: randomUUID(), userId: randomUUID(), deviceName: 'laptop', platform: 'node', userAgent: 'test', createdAt: now, lastSeenAt: now,
      lastIp: '10.0.0.1', jkt: 'jkt', amr: ['pwd'], refreshHash: 'h', idleTimeoutMs: 3_600_000, absoluteExpiresAt: now + 3_600_000
    }
    await store.putSession(session)
    // The requester revokes its own session: `revokeSession` reads only these ids.
    const authed = { session: { id: session.id }, user: { id: session.userId } } as Authed
    const ctx: RequestContext = { ip: '10.0.0.9', userAgent: 'test', method: 'DELETE', url: '/' }
    return { store, identity, session, authed, ctx, ended }
  }

  it('a touch from a request authenticated before a revoke does not bring the session back', async () => {
    const { store, identity, session, authed, ctx, ended } = await setup()
    // The copy a request read while authenticating; the revoke lands before that request's touch writes.
    const held = structuredClone(session)
    await identity.revokeSession(authed, session.id, ctx)
    await identity.touch(held, '10.0.0.2') // a new IP: touch writes

    const stored = await store.sessionById(session.id)
    expect(stored?.endedAt).toEqual(expect.any(Number))
    expect(stored?.endReason).toBe('logout') // its own session: this device signed out
    expect(ended).toEqual([session.id])
    expect(await store.sessionsOfUser(session.userId)).toEqual([])
  })

  it('a touch of a live session records the new IP', async () => {
    const { store, identity, session } = await setup()
    await identity.touch(structuredClone(session), '10.0.0.2')
    const stored = await store.sessionById(session.id)
    expect(stored?.lastIp).toBe('10.0.0.2')
    expect(stored?.endedAt).toBeUndefined()
  })

  it('a touch that starts while a revoke is writing does not bring the session back', async () => {
    const { store, identity, session, authed, ctx } = await setup()
    const held = structuredClone(session)
    const gate = store.holdNextPut()
    const revoking = identity.revokeSession(authed, session.id, ctx)
    await gate.reached
    const touching = identity.touch(held, '10.0.0.2')
    gate.release()
    await Promise.all([touching, revoking])

    const stored = await store.sessionById(session.id)
    expect(stored?.endedAt).toEqual(expect.any(Number))
    expect(stored?.lastIp).toBe('10.0.0.1')
    expect(await store.sessionsOfUser(session.userId)).toEqual([])
  })
})
