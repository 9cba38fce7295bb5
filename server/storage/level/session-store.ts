import type { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'
import { listedSession, securityEventTimeKey, type ActivityRecord, type ApiKeyRecord, type DailyFigures, type DeviceGrantRecord, type DocRecord, type PasskeyRecord, type SecurityEventQuery, type SecurityEventRecord, type SessionRecord, type SessionStore, type UserRecord } from '../session-store.js'

type Sub<V> = AbstractSublevel<Level<string, Uint8Array>, string | Uint8Array | Buffer, string, V>

/**
 * SessionStore on LevelDB sublevels of the server's database (JSON values):
 * `users` id→user, `emails` canonical email→id, `sessions` id→session, `user-sessions` `<user>!<session>`,
 * `refresh` hash→session, `docs` id→doc, `user-docs` `<user>!<doc>`, `device-grants` id→grant,
 * `user-codes` user code→grant, `grant-expiry` `<expiresAt, 15 digits>!<grant>`, `passkeys` id→passkey,
 * `user-passkeys` `<user>!<passkey>`, `security-events` id→event (ids sort by time),
 * `user-events` `<user>!<event>`, `daily` `<day, 8 digits>!<name>`→number, `activity` id→record,
 * `activity-start` `<start, 15 digits>!<id>`, `api-keys` id→key. Index and record are always written in one batch.
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
  private readonly daily: Sub<number>
  private readonly activity: Sub<ActivityRecord>
  private readonly activityStart: Sub<string>
  // Daily counts are read, added to and written: one change at a time (one process owns a LevelDB).
  private counting: Promise<unknown> = Promise.resolve()
  // Registration must not race on one email, nor on one credential ID: creations run one at a time (cheap, rare).
  private creating: Promise<unknown> = Promise.resolve()
  /** The last queued update of each session (`session:<id>`) and device grant (`grant:<id>`) being updated. */
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
    this.daily = sub('daily')
    this.activity = sub('activity')
    this.activityStart = sub('activity-start')
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
      !listedSession(s)
        ? { type: 'del', sublevel: this.userSessions, key: `${s.userId}!${s.id}` }
        : { type: 'put', sublevel: this.userSessions, key: `${s.userId}!${s.id}`, value: '' }
    ] as never)
  }

  sessionById (id: string) { return this.sessions.get(id) }

  /** One process holds a LevelDB database: updates of a session queue in memory. */
  updateSession (id: string, change: (current: SessionRecord) => boolean): Promise<SessionRecord | undefined> {
    return this.queued(`session:${id}`, async () => {
      const current = await this.sessions.get(id)
      if (current && change(current)) await this.putSession(current)
      return current
    })
  }

  /** Runs `fn` after the last queued update of the same record (`<kind>:<id>`), then the next one. */
  private queued<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.updating.get(key) ?? Promise.resolve()).then(fn)
    const tail = run.catch(() => {})
    this.updating.set(key, tail)
    void tail.then(() => { if (this.updating.get(key) === tail) this.updating.delete(key) })
    return run
  }

  async sessionsOfUser (userId: string) {
    const ids = await this.userSessions.keys({ gt: `${userId}!`, lt: `${userId}!\xff` }).all()
    const rows = await this.sessions.getMany(ids.map(k => k.slice(userId.length + 1)))
    return rows.filter((s): s is SessionRecord => s !== undefined)
  }

  /** A scan of every session: the retention sweep runs rarely and in pages. */
  async sessionsSeenBefore (time: number, limit: number) {
    const out: SessionRecord[] = []
    if (limit <= 0) return out
    for await (const s of this.sessions.values()) {
      if (s.lastSeenAt < time && s.lastIp !== '') out.push(s)
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * One batch. Security events go by their per-user index. Sessions, refresh hashes and grants have no index by user that covers ended ones, so
   * they are found by a scan: account deletion is rare, and must leave nothing behind.
   */
  async deleteAccount (userId: string) {
    const ops: unknown[] = []
    const del = (sublevel: unknown, key: string) => ops.push({ type: 'del', sublevel, key })
    const u = await this.users.get(userId)
    if (u) { del(this.users, userId); if (await this.emails.get(u.email) === userId) del(this.emails, u.email) }
    const sids = new Set<string>()
    for await (const s of this.sessions.values()) {
      if (s.userId !== userId) continue
      sids.add(s.id)
      del(this.sessions, s.id)
      del(this.userSessions, `${userId}!${s.id}`)
    }
    for await (const [hash, sid] of this.refresh.iterator()) if (sids.has(sid)) del(this.refresh, hash)
    for (const p of await this.passkeysOfUser(userId)) { del(this.passkeys, p.id); del(this.userPasskeys, `${userId}!${p.id}`) }
    for await (const g of this.grants.values()) {
      if (g.userId !== userId) continue
      del(this.grants, g.id)
      del(this.grantExpiry, expiryKey(g))
      if (await this.userCodes.get(g.userCode) === g.id) del(this.userCodes, g.userCode)
    }
    for (const d of await this.docsOfUser(userId)) {
      if (d.ownerId === userId) {
        del(this.docs, d.id)
        for (const m of Object.keys(d.members)) del(this.userDocs, `${m}!${d.id}`)
      } else {
        delete d.members[userId]
        ops.push({ type: 'put', sublevel: this.docs, key: d.id, value: d })
      }
      del(this.userDocs, `${userId}!${d.id}`)
    }
    for await (const r of this.activity.values()) {
      if (r.userId !== userId) continue
      del(this.activity, r.id)
      del(this.activityStart, startKey(r))
    }
    for await (const key of this.userEvents.keys({ gt: `${userId}!`, lt: `${userId}!\xff` })) {
      del(this.userEvents, key)
      del(this.events, key.slice(userId.length + 1))
    }
    await this.db.batch(ops as never)
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

  updateDeviceGrant (id: string, change: (current: DeviceGrantRecord) => boolean): Promise<DeviceGrantRecord | undefined> {
    return this.queued(`grant:${id}`, async () => {
      const current = await this.grants.get(id)
      if (current && change(current)) await this.putDeviceGrant(current)
      return current
    })
  }

  /** Queued with the grant's updates: of two deletes, the second finds nothing and resolves false. */
  deleteDeviceGrant (g: DeviceGrantRecord): Promise<boolean> {
    return this.queued(`grant:${g.id}`, async () => {
      if (await this.grants.get(g.id) === undefined) return false
      const ops: unknown[] = [
        { type: 'del', sublevel: this.grants, key: g.id },
        { type: 'del', sublevel: this.grantExpiry, key: expiryKey(g) }
      ]
      // The code may name a newer grant by now; only this grant's own entry goes.
      if (await this.userCodes.get(g.userCode) === g.id) ops.push({ type: 'del', sublevel: this.userCodes, key: g.userCode })
      await this.db.batch(ops as never)
      return true
    })
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

  async usersByEmailPrefix (prefix: string, after: string | undefined, limit: number) {
    const from = after !== undefined && after >= prefix ? { gt: after } : { gte: prefix }
    const ids: string[] = []
    for await (const [email, id] of this.emails.iterator({ ...from, lt: `${prefix}\u{10FFFF}` })) {
      if (!email.startsWith(prefix)) break
      ids.push(id)
      if (ids.length >= limit) break
    }
    const rows = await this.users.getMany(ids)
    return rows.filter((u): u is UserRecord => u !== undefined)
  }

  addDailyCounts (day: number, counts: Record<string, number>): Promise<void> {
    const run = this.counting.then(async () => {
      const names = Object.keys(counts)
      const current = await this.daily.getMany(names.map(n => dailyKey(day, n)))
      await this.daily.batch(names.map((n, i) => ({ type: 'put' as const, key: dailyKey(day, n), value: (current[i] ?? 0) + counts[n]! })))
    })
    this.counting = run.catch(() => {})
    return run
  }

  setDailyValues (day: number, values: Record<string, number>): Promise<void> {
    const run = this.counting.then(() => this.daily.batch(Object.entries(values).map(([n, v]) => ({ type: 'put' as const, key: dailyKey(day, n), value: v }))))
    this.counting = run.catch(() => {})
    return run
  }

  async dailyFigures (from: number, to: number): Promise<DailyFigures[]> {
    const out: DailyFigures[] = []
    if (to <= from) return out
    for await (const [key, value] of this.daily.iterator({ gte: dayPrefix(from), lt: dayPrefix(to) })) {
      const day = Number(key.slice(0, 8))
      if (out.at(-1)?.day !== day) out.push({ day, values: {} })
      out.at(-1)!.values[key.slice(9)] = value
    }
    return out
  }

  async putActivities (records: ActivityRecord[]) {
    if (records.length === 0) return
    await this.db.batch(records.flatMap(a => [
      { type: 'put', sublevel: this.activity, key: a.id, value: a },
      { type: 'put', sublevel: this.activityStart, key: startKey(a), value: '' }
    ]) as never)
  }

  async activityBetween (from: number, to: number, limit: number) {
    const out: ActivityRecord[] = []
    // By start, from the oldest kept: records end after they start, and retention bounds how many there are.
    for await (const key of this.activityStart.keys({ lt: String(Math.max(0, to)).padStart(15, '0') })) {
      const a = await this.activity.get(key.slice(16))
      if (a && a.end >= from && a.start < to) out.push(a)
      if (out.length >= limit) break
    }
    return out
  }

  async deleteActivityBefore (time: number, limit: number) {
    const ops: unknown[] = []
    for await (const key of this.activityStart.keys({ lt: String(Math.max(0, time)).padStart(15, '0') })) {
      const id = key.slice(16)
      const a = await this.activity.get(id)
      if (a && a.end >= time) continue
      ops.push({ type: 'del', sublevel: this.activityStart, key }, { type: 'del', sublevel: this.activity, key: id })
      if (ops.length >= limit * 2) break
    }
    await this.db.batch(ops as never)
    return ops.length / 2
  }
}

/** Sorts by expiry: a fixed-width decimal time, then the grant. */
const expiryKey = (g: DeviceGrantRecord) => `${String(g.expiresAt).padStart(15, '0')}!${g.id}`
const dayPrefix = (day: number) => String(Math.max(0, day)).padStart(8, '0')
const dailyKey = (day: number, name: string) => `${dayPrefix(day)}!${name}`
const startKey = (a: ActivityRecord) => `${String(a.start).padStart(15, '0')}!${a.id}`
