import type { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'
import { securityEventTimeKey, type ApiKeyRecord, type DeviceGrantRecord, type DocRecord, type PasskeyRecord, type SecurityEventQuery, type SecurityEventRecord, type SessionRecord, type SessionStore, type UserRecord } from '../session-store.js'

type Sub<V> = AbstractSublevel<Level<string, Uint8Array>, string | Uint8Array | Buffer, string, V>

/**
 * SessionStore on LevelDB sublevels of the server's database (JSON values):
 * `users` id→user, `emails` canonical email→id, `sessions` id→session, `user-sessions` `<user>!<session>`,
 * `refresh` hash→session, `docs` id→doc, `user-docs` `<user>!<doc>`, `device-grants` id→grant,
 * `user-codes` user code→grant, `grant-expiry` `<expiresAt, 15 digits>!<grant>`, `passkeys` id→passkey,
 * `user-passkeys` `<user>!<passkey>`, `security-events` id→event (ids sort by time),
 * `user-events` `<user>!<event>`, `api-keys` id→key. Index and record are always written in one batch.
 */
export class LevelSessionStore implements SessionStore {
  private readonly users: Sub<UserRecord>
  private readonly emails: Sub<string>
  private readonly sessions: Sub<SessionRecord>
  private readonly userSessions: Sub<string>
  private readonly refresh: Sub<string>
  private readonly docs: Sub<DocRecord>
  private readonly userDocs: Sub<string>
  private readonly grants: Sub<DeviceGrantRecord>
  private readonly userCodes: Sub<string>
  private readonly grantExpiry: Sub<string>
  private readonly passkeys: Sub<PasskeyRecord>
  private readonly userPasskeys: Sub<string>
  private readonly keys: Sub<ApiKeyRecord>
  private readonly events: Sub<SecurityEventRecord>
  private readonly userEvents: Sub<string>
  // Registration must not race on one email, nor on one credential ID: creations run one at a time (cheap, rare).
  private creating: Promise<unknown> = Promise.resolve()
  /** The last queued update of each session being updated. */
  private readonly updating = new Map<string, Promise<unknown>>()

  constructor (private readonly db: Level<string, Uint8Array>) {
    const sub = <V>(name: string) => db.sublevel<string, V>(name, { valueEncoding: 'json' }) as unknown as Sub<V>
    this.users = sub('users')
    this.emails = sub('emails')
    this.sessions = sub('sessions')
    this.userSessions = sub('user-sessions')
    this.refresh = sub('refresh')
    this.docs = sub('docs')
    this.userDocs = sub('user-docs')
    this.grants = sub('device-grants')
    this.userCodes = sub('user-codes')
    this.grantExpiry = sub('grant-expiry')
    this.passkeys = sub('passkeys')
    this.userPasskeys = sub('user-passkeys')
    this.keys = sub('api-keys')
    this.events = sub('security-events')
    this.userEvents = sub('user-events')
  }

  private oneAtATime<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.creating.then(fn)
    this.creating = run.catch(() => {})
    return run
  }

  createUser (user: UserRecord): Promise<boolean> {
    return this.oneAtATime(async () => {
      if (await this.emails.get(user.email) !== undefined) return false
      await this.db.batch([
        { type: 'put', sublevel: this.users, key: user.id, value: user },
        { type: 'put', sublevel: this.emails, key: user.email, value: user.id }
      ] as never)
      return true
    })
  }

  userById (id: string) { return this.users.get(id) }
  async userByEmail (email: string) {
    const id = await this.emails.get(email)
    return id === undefined ? undefined : this.users.get(id)
  }

  putUser (user: UserRecord) { return this.users.put(user.id, user) }

  putSession (s: SessionRecord) {
    return this.db.batch([
      { type: 'put', sublevel: this.sessions, key: s.id, value: s },
      s.endedAt
        ? { type: 'del', sublevel: this.userSessions, key: `${s.userId}!${s.id}` }
        : { type: 'put', sublevel: this.userSessions, key: `${s.userId}!${s.id}`, value: '' }
    ] as never)
  }

  sessionById (id: string) { return this.sessions.get(id) }

  /** One process holds a LevelDB database: updates of a session queue in memory. */
  updateSession (id: string, change: (current: SessionRecord) => boolean): Promise<SessionRecord | undefined> {
    const run = (this.updating.get(id) ?? Promise.resolve()).then(async () => {
      const current = await this.sessions.get(id)
      if (current && change(current)) await this.putSession(current)
      return current
    })
    const tail = run.catch(() => {})
    this.updating.set(id, tail)
    void tail.then(() => { if (this.updating.get(id) === tail) this.updating.delete(id) })
    return run
  }

  async sessionsOfUser (userId: string) {
    const ids = await this.userSessions.keys({ gt: `${userId}!`, lt: `${userId}!\xff` }).all()
    const rows = await this.sessions.getMany(ids.map(k => k.slice(userId.length + 1)))
    return rows.filter((s): s is SessionRecord => s !== undefined)
  }

  indexRefreshHash (hash: string, sessionId: string) { return this.refresh.put(hash, sessionId) }
  sessionIdByRefreshHash (hash: string) { return this.refresh.get(hash) }

  async putDoc (d: DocRecord) {
    const before = await this.docs.get(d.id)
    const ops: unknown[] = [{ type: 'put', sublevel: this.docs, key: d.id, value: d }]
    const people = (doc: DocRecord) => [doc.ownerId, ...Object.keys(doc.members)]
    for (const u of before ? people(before) : []) if (!people(d).includes(u)) ops.push({ type: 'del', sublevel: this.userDocs, key: `${u}!${d.id}` })
    for (const u of people(d)) ops.push({ type: 'put', sublevel: this.userDocs, key: `${u}!${d.id}`, value: '' })
    await this.db.batch(ops as never)
  }

  docById (id: string) { return this.docs.get(id) }

  async deleteDoc (d: DocRecord) {
    const ops: unknown[] = [{ type: 'del', sublevel: this.docs, key: d.id }]
    for (const u of [d.ownerId, ...Object.keys(d.members)]) ops.push({ type: 'del', sublevel: this.userDocs, key: `${u}!${d.id}` })
    await this.db.batch(ops as never)
  }

  async docsOfUser (userId: string) {
    const keys = await this.userDocs.keys({ gt: `${userId}!`, lt: `${userId}!\xff` }).all()
    const rows = await this.docs.getMany(keys.map(k => k.slice(userId.length + 1)))
    return rows.filter((d): d is DocRecord => d !== undefined)
  }

  putDeviceGrant (g: DeviceGrantRecord) {
    return this.db.batch([
      { type: 'put', sublevel: this.grants, key: g.id, value: g },
      { type: 'put', sublevel: this.userCodes, key: g.userCode, value: g.id },
      { type: 'put', sublevel: this.grantExpiry, key: expiryKey(g), value: '' }
    ] as never)
  }

  deviceGrantById (id: string) { return this.grants.get(id) }

  async deviceGrantByUserCode (userCode: string) {
    const id = await this.userCodes.get(userCode)
    return id === undefined ? undefined : this.grants.get(id)
  }

  async deleteDeviceGrant (g: DeviceGrantRecord) {
    const ops: unknown[] = [
      { type: 'del', sublevel: this.grants, key: g.id },
      { type: 'del', sublevel: this.grantExpiry, key: expiryKey(g) }
    ]
    // The code may name a newer grant by now; only this grant's own entry goes.
    if (await this.userCodes.get(g.userCode) === g.id) ops.push({ type: 'del', sublevel: this.userCodes, key: g.userCode })
    await this.db.batch(ops as never)
  }

  async deviceGrantsExpiredBefore (time: number, limit: number) {
    const keys = await this.grantExpiry.keys({ lt: String(Math.max(0, time)).padStart(15, '0'), limit }).all()
    const rows = await this.grants.getMany(keys.map(k => k.slice(16)))
    return rows.filter((g): g is DeviceGrantRecord => g !== undefined)
  }

  createPasskey (p: PasskeyRecord): Promise<boolean> {
    return this.oneAtATime(async () => {
      if (await this.passkeys.get(p.id) !== undefined) return false
      await this.putPasskey(p)
      return true
    })
  }

  putPasskey (p: PasskeyRecord) {
    return this.db.batch([
      { type: 'put', sublevel: this.passkeys, key: p.id, value: p },
      { type: 'put', sublevel: this.userPasskeys, key: `${p.userId}!${p.id}`, value: '' }
    ] as never)
  }

  passkeyById (id: string) { return this.passkeys.get(id) }

  async passkeysOfUser (userId: string) {
    const keys = await this.userPasskeys.keys({ gt: `${userId}!`, lt: `${userId}!\xff` }).all()
    const rows = await this.passkeys.getMany(keys.map(k => k.slice(userId.length + 1)))
    return rows.filter((p): p is PasskeyRecord => p !== undefined)
  }

  deletePasskey (p: PasskeyRecord) {
    return this.db.batch([
      { type: 'del', sublevel: this.passkeys, key: p.id },
      { type: 'del', sublevel: this.userPasskeys, key: `${p.userId}!${p.id}` }
    ] as never)
  }

  putApiKey (k: ApiKeyRecord) { return this.keys.put(k.id, k) }
  apiKeyById (id: string) { return this.keys.get(id) }
  apiKeys () { return this.keys.values().all() }

  addSecurityEvent (e: SecurityEventRecord) {
    const ops: unknown[] = [{ type: 'put', sublevel: this.events, key: e.id, value: e }]
    if (e.userId) ops.push({ type: 'put', sublevel: this.userEvents, key: `${e.userId}!${e.id}`, value: '' })
    return this.db.batch(ops as never)
  }

  async securityEvents (q: SecurityEventQuery) {
    // Ids sort by time, so [since, until) and the cursor are one key range, read newest first. A kind
    // filter reads on through the range until the page is full.
    const lower = q.since === undefined ? '' : securityEventTimeKey(q.since)
    let upper = q.until === undefined ? '\xff' : securityEventTimeKey(q.until)
    if (q.before !== undefined && q.before < upper) upper = q.before
    const kinds = q.kinds && new Set(q.kinds)
    const out: SecurityEventRecord[] = []
    if (q.limit <= 0) return out
    if (q.userId === undefined) {
      for await (const e of this.events.values({ gte: lower, lt: upper, reverse: true })) {
        if (!kinds || kinds.has(e.kind)) out.push(e)
        if (out.length >= q.limit) break
      }
      return out
    }
    const prefix = `${q.userId}!`
    for await (const key of this.userEvents.keys({ gte: prefix + lower, lt: prefix + upper, reverse: true })) {
      const e = await this.events.get(key.slice(prefix.length))
      if (e && (!kinds || kinds.has(e.kind))) out.push(e)
      if (out.length >= q.limit) break
    }
    return out
  }

  async deleteSecurityEventsBefore (time: number, limit: number) {
    const old = await this.events.values({ lt: securityEventTimeKey(time), limit }).all()
    const ops: unknown[] = []
    for (const e of old) {
      ops.push({ type: 'del', sublevel: this.events, key: e.id })
      if (e.userId) ops.push({ type: 'del', sublevel: this.userEvents, key: `${e.userId}!${e.id}` })
    }
    if (ops.length > 0) await this.db.batch(ops as never)
    return old.length
  }
}

/** Sorts by expiry: a fixed-width decimal time, then the grant. */
const expiryKey = (g: DeviceGrantRecord) => `${String(g.expiresAt).padStart(15, '0')}!${g.id}`
