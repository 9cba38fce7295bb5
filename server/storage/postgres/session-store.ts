import type pg from 'pg'
import { listedSession, securityEventTimeKey, type ActivityRecord, type ApiKeyRecord, type DailyFigures, type DeviceGrantRecord, type DocRecord, type PasskeyRecord, type SecurityEventQuery, type SecurityEventRecord, type SessionRecord, type SessionStore, type UserRecord } from '../session-store.js'
import { inTransaction } from './pool.js'

/**
 * SessionStore on PostgreSQL (migrations/001_init.sql). Each record is stored whole as JSON (`record`)
 * next to the columns it is looked up by, which are written from the record in the same statement:
 * `users` (id, unique email), `sessions` (id, user_id, ended), `refresh_hashes` (hash → session),
 * `docs` (id, owner_id) and `doc_members` (doc, user, role; the owner included); migrations/002:
 * `device_grants` (id, unique user_code, expires_at) and `passkeys` (id, user_id); migrations/003:
 * `security_events` (id, user_id, kind; ids sort by time); migrations/007: `analytics_daily` (day,
 * name, value) and `activity` (one row per socket); migrations/008: `api_keys` (id). A new lookup is a
 * new column or table written here; the record itself needs no migration for a new field.
 * Results come in id order, as from the LevelDB store.
 * `sessions.ended` is true once a session is no longer listed (ended, and no wipe pending).
 */
/**
 * PostgreSQL text cannot hold U+0000 and refuses a parameter with one. No stored key has it, so a
 * lookup by such a key (a typed email, an id from a URL) finds nothing, as it would in LevelDB.
 */
const storable = (key: string): boolean => !key.includes('\u0000')

export class PostgresSessionStore implements SessionStore {
  constructor (private readonly pool: pg.Pool) {}

  /** One statement: the unique email decides between concurrent registrations, on any node. */
  async createUser (user: UserRecord): Promise<boolean> {
    const res = await this.pool.query('INSERT INTO users (id, email, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [user.id, user.email, JSON.stringify(user)])
    return res.rowCount === 1
  }

  userById (id: string) { return this.one<UserRecord>('SELECT record FROM users WHERE id = $1', [id]) }
  userByEmail (email: string) { return this.one<UserRecord>('SELECT record FROM users WHERE email = $1', [email]) }

  async putUser (user: UserRecord): Promise<void> {
    await this.pool.query(`INSERT INTO users (id, email, record) VALUES ($1, $2, $3)
      ON CONFLICT (id) DO UPDATE SET email = excluded.email, record = excluded.record`,
    [user.id, user.email, JSON.stringify(user)])
  }

  /** An ended session leaves `sessionsOfUser` (it stays readable by id). */
  async putSession (s: SessionRecord): Promise<void> {
    await this.pool.query(`INSERT INTO sessions (id, user_id, ended, record) VALUES ($1, $2, $3, $4)
      ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, ended = excluded.ended, record = excluded.record`,
    [s.id, s.userId, !listedSession(s), JSON.stringify(s)])
  }

  sessionById (id: string) { return this.one<SessionRecord>('SELECT record FROM sessions WHERE id = $1', [id]) }

  /** The row stays locked (FOR UPDATE) from read to write: an update on another node waits for it. */
  updateSession (id: string, change: (current: SessionRecord) => boolean): Promise<SessionRecord | undefined> {
    return this.updateLocked('sessions', id, change, 'user_id = $2, ended = $3', s => [s.userId, !listedSession(s)])
  }

  sessionsOfUser (userId: string) {
    return this.all<SessionRecord>('SELECT record FROM sessions WHERE user_id = $1 AND NOT ended ORDER BY id', [userId])
  }

  /**
   * Pages through every session in id order and filters in JS: JSON operators would fail on a record
   * holding an escaped U+0000 (a device name may), and the sweep runs rarely.
   */
  async sessionsSeenBefore (time: number, limit: number): Promise<SessionRecord[]> {
    const out: SessionRecord[] = []
    for (let after = ''; out.length < limit;) {
      const { rows } = await this.pool.query<{ id: string, record: SessionRecord }>('SELECT id, record FROM sessions WHERE id > $1 ORDER BY id LIMIT 1000', [after])
      for (const { record } of rows) if (record.lastSeenAt < time && record.lastIp !== '' && out.length < limit) out.push(record)
      if (rows.length < 1000) break
      after = rows[rows.length - 1]!.id
    }
    return out
  }

  /** One transaction over every table that names the account. */
  async deleteAccount (userId: string): Promise<void> {
    if (!storable(userId)) return
    await inTransaction(this.pool, async client => {
      await client.query('DELETE FROM refresh_hashes WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)', [userId])
      await client.query('DELETE FROM sessions WHERE user_id = $1', [userId])
      await client.query('DELETE FROM passkeys WHERE user_id = $1', [userId])
      // The record's text as written (JSON.stringify), not parsed: a parse fails on an escaped U+0000.
      await client.query(`DELETE FROM device_grants WHERE record::text LIKE '%"userId":' || to_json($1::text)::text || '%'`, [userId])
      // Owned drafts go with their members (ON DELETE CASCADE); memberships in others' leave their records too.
      await client.query('DELETE FROM docs WHERE owner_id = $1', [userId])
      const { rows } = await client.query<{ record: DocRecord }>(
        'SELECT d.record FROM doc_members m JOIN docs d ON d.id = m.doc_id WHERE m.user_id = $1 FOR UPDATE OF d', [userId])
      for (const { record } of rows) {
        delete record.members[userId]
        await client.query('UPDATE docs SET record = $2 WHERE id = $1', [record.id, JSON.stringify(record)])
      }
      await client.query('DELETE FROM doc_members WHERE user_id = $1', [userId])
      await client.query('DELETE FROM security_events WHERE user_id = $1', [userId])
      await client.query('DELETE FROM activity WHERE user_id = $1', [userId])
      await client.query('DELETE FROM users WHERE id = $1', [userId])
    })
  }

  async indexRefreshHash (hash: string, sessionId: string): Promise<void> {
    await this.pool.query(`INSERT INTO refresh_hashes (hash, session_id) VALUES ($1, $2)
      ON CONFLICT (hash) DO UPDATE SET session_id = excluded.session_id`, [hash, sessionId])
  }

  async sessionIdByRefreshHash (hash: string): Promise<string | undefined> {
    if (!storable(hash)) return undefined
    const { rows } = await this.pool.query<{ session_id: string }>('SELECT session_id FROM refresh_hashes WHERE hash = $1', [hash])
    return rows[0]?.session_id
  }

  /** The document and who has it, in one transaction. */
  async putDoc (d: DocRecord): Promise<void> {
    const roles = new Map<string, string>(Object.entries(d.members))
    roles.set(d.ownerId, 'owner')
    await inTransaction(this.pool, async client => {
      await client.query(`INSERT INTO docs (id, owner_id, record) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id, record = excluded.record`,
      [d.id, d.ownerId, JSON.stringify(d)])
      await client.query('DELETE FROM doc_members WHERE doc_id = $1 AND NOT (user_id = ANY($2::text[]))', [d.id, [...roles.keys()]])
      await client.query(`INSERT INTO doc_members (doc_id, user_id, role) SELECT $1, u, r FROM unnest($2::text[], $3::text[]) AS m(u, r)
        ON CONFLICT (doc_id, user_id) DO UPDATE SET role = excluded.role`, [d.id, [...roles.keys()], [...roles.values()]])
    })
  }

  docById (id: string) { return this.one<DocRecord>('SELECT record FROM docs WHERE id = $1', [id]) }

  /** Members go with the document (ON DELETE CASCADE). */
  async deleteDoc (d: DocRecord): Promise<void> {
    await this.pool.query('DELETE FROM docs WHERE id = $1', [d.id])
  }

  docsOfUser (userId: string) {
    return this.all<DocRecord>('SELECT d.record FROM doc_members m JOIN docs d ON d.id = m.doc_id WHERE m.user_id = $1 ORDER BY d.id', [userId])
  }

  async putDeviceGrant (g: DeviceGrantRecord): Promise<void> {
    await this.pool.query(`INSERT INTO device_grants (id, user_code, expires_at, record) VALUES ($1, $2, $3, $4)
      ON CONFLICT (id) DO UPDATE SET user_code = excluded.user_code, expires_at = excluded.expires_at, record = excluded.record`,
    [g.id, g.userCode, g.expiresAt, JSON.stringify(g)])
  }

  deviceGrantById (id: string) { return this.one<DeviceGrantRecord>('SELECT record FROM device_grants WHERE id = $1', [id]) }
  deviceGrantByUserCode (userCode: string) { return this.one<DeviceGrantRecord>('SELECT record FROM device_grants WHERE user_code = $1', [userCode]) }

  /** The row stays locked (FOR UPDATE) from read to write, as in `updateSession`. */
  updateDeviceGrant (id: string, change: (current: DeviceGrantRecord) => boolean): Promise<DeviceGrantRecord | undefined> {
    return this.updateLocked('device_grants', id, change, 'user_code = $2, expires_at = $3', g => [g.userCode, g.expiresAt])
  }

  /**
   * Reads the JSON record of row `id` under a row lock, applies `change`, and writes it back when
   * `change` returns true, with the indexed columns `set` ($2, $3…) taken from `columns(record)`.
   */
  private async updateLocked<T> (table: 'sessions' | 'device_grants', id: string, change: (current: T) => boolean, set: string, columns: (record: T) => unknown[]): Promise<T | undefined> {
    if (!storable(id)) return undefined
    return inTransaction(this.pool, async client => {
      const { rows } = await client.query<{ record: T }>(`SELECT record FROM ${table} WHERE id = $1 FOR UPDATE`, [id])
      const current = rows[0]?.record
      if (current && change(current)) {
        const values = columns(current)
        await client.query(`UPDATE ${table} SET ${set}, record = $${values.length + 2} WHERE id = $1`, [id, ...values, JSON.stringify(current)])
      }
      return current
    })
  }

  async deleteDeviceGrant (g: DeviceGrantRecord): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM device_grants WHERE id = $1', [g.id])
    return res.rowCount === 1
  }

  async deviceGrantsExpiredBefore (time: number, limit: number): Promise<DeviceGrantRecord[]> {
    const { rows } = await this.pool.query<{ record: DeviceGrantRecord }>(
      'SELECT record FROM device_grants WHERE expires_at < $1 ORDER BY expires_at, id LIMIT $2', [time, limit])
    return rows.map(r => r.record)
  }

  /** One statement: the primary key decides between concurrent registrations of one credential. */
  async createPasskey (p: PasskeyRecord): Promise<boolean> {
    const res = await this.pool.query('INSERT INTO passkeys (id, user_id, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [p.id, p.userId, JSON.stringify(p)])
    return res.rowCount === 1
  }

  async putPasskey (p: PasskeyRecord): Promise<void> {
    await this.pool.query(`INSERT INTO passkeys (id, user_id, record) VALUES ($1, $2, $3)
      ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, record = excluded.record`,
    [p.id, p.userId, JSON.stringify(p)])
  }

  passkeyById (id: string) { return this.one<PasskeyRecord>('SELECT record FROM passkeys WHERE id = $1', [id]) }
  passkeysOfUser (userId: string) { return this.all<PasskeyRecord>('SELECT record FROM passkeys WHERE user_id = $1 ORDER BY id', [userId]) }

  async deletePasskey (p: PasskeyRecord): Promise<void> {
    await this.pool.query('DELETE FROM passkeys WHERE id = $1', [p.id])
  }

  async putApiKey (k: ApiKeyRecord): Promise<void> {
    await this.pool.query(`INSERT INTO api_keys (id, record) VALUES ($1, $2)
      ON CONFLICT (id) DO UPDATE SET record = excluded.record`, [k.id, JSON.stringify(k)])
  }

  apiKeyById (id: string) { return this.one<ApiKeyRecord>('SELECT record FROM api_keys WHERE id = $1', [id]) }

  async apiKeys (): Promise<ApiKeyRecord[]> {
    const { rows } = await this.pool.query<{ record: ApiKeyRecord }>('SELECT record FROM api_keys ORDER BY id')
    return rows.map(r => r.record)
  }

  async addSecurityEvent (e: SecurityEventRecord): Promise<void> {
    await this.pool.query('INSERT INTO security_events (id, user_id, kind, record) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [e.id, e.userId ?? null, e.kind, JSON.stringify(e)])
  }

  /** Ids sort by time: [since, until) and the cursor are one range of the primary key. */
  async securityEvents (q: SecurityEventQuery): Promise<SecurityEventRecord[]> {
    if (q.limit <= 0 || (q.userId !== undefined && !storable(q.userId))) return []
    const lower = q.since === undefined ? '' : securityEventTimeKey(q.since)
    let upper = q.until === undefined ? '\u{10FFFF}' : securityEventTimeKey(q.until)
    if (q.before !== undefined && q.before < upper) upper = q.before
    if (!storable(upper)) return []
    const { rows } = await this.pool.query<{ record: SecurityEventRecord }>(
      `SELECT record FROM security_events
       WHERE id >= $1 AND id < $2 AND ($3::text IS NULL OR user_id = $3) AND ($4::text[] IS NULL OR kind = ANY($4))
       ORDER BY id DESC LIMIT $5`,
      [lower, upper, q.userId ?? null, q.kinds ?? null, q.limit])
    return rows.map(r => r.record)
  }

  async deleteSecurityEventsBefore (time: number, limit: number): Promise<number> {
    const res = await this.pool.query(
      'DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE id < $1 ORDER BY id LIMIT $2)',
      [securityEventTimeKey(time), limit])
    return res.rowCount ?? 0
  }

  async usersByEmailPrefix (prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]> {
    if (!storable(prefix) || (after !== undefined && !storable(after))) return []
    const { rows } = await this.pool.query<{ record: UserRecord }>(
      `SELECT record FROM users WHERE email >= $1 AND email < $2 AND starts_with(email, $1) AND ($3::text IS NULL OR email > $3)
       ORDER BY email LIMIT $4`, [prefix, `${prefix}\u{10FFFF}`, after ?? null, limit])
    return rows.map(r => r.record)
  }

  /** One statement: `value = value + n` in the row, so nodes counting at once never lose a count. */
  async addDailyCounts (day: number, counts: Record<string, number>): Promise<void> {
    const names = Object.keys(counts)
    if (names.length === 0) return
    await this.pool.query(`INSERT INTO analytics_daily (day, name, value) SELECT $1, n, v FROM unnest($2::text[], $3::bigint[]) AS c(n, v)
      ON CONFLICT (day, name) DO UPDATE SET value = analytics_daily.value + excluded.value`,
    [day, names, names.map(n => Math.round(counts[n]!))])
  }

  async setDailyValues (day: number, values: Record<string, number>): Promise<void> {
    const names = Object.keys(values)
    if (names.length === 0) return
    await this.pool.query(`INSERT INTO analytics_daily (day, name, value) SELECT $1, n, v FROM unnest($2::text[], $3::bigint[]) AS c(n, v)
      ON CONFLICT (day, name) DO UPDATE SET value = excluded.value`,
    [day, names, names.map(n => Math.round(values[n]!))])
  }

  async dailyFigures (from: number, to: number): Promise<DailyFigures[]> {
    const { rows } = await this.pool.query<{ day: number, name: string, value: string }>(
      'SELECT day, name, value FROM analytics_daily WHERE day >= $1 AND day < $2 ORDER BY day, name', [from, to])
    const out: DailyFigures[] = []
    for (const r of rows) {
      if (out.at(-1)?.day !== r.day) out.push({ day: r.day, values: {} })
      out.at(-1)!.values[r.name] = Number(r.value)
    }
    return out
  }

  /** One statement for all of them. */
  async putActivities (records: ActivityRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.pool.query(`INSERT INTO activity (id, user_id, session_id, start_at, end_at, edits)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
      ON CONFLICT (id) DO UPDATE SET end_at = excluded.end_at, edits = excluded.edits`,
    [records.map(a => a.id), records.map(a => a.userId), records.map(a => a.sessionId), records.map(a => a.start), records.map(a => a.end), records.map(a => a.edits)])
  }

  async activityBetween (from: number, to: number, limit: number): Promise<ActivityRecord[]> {
    const { rows } = await this.pool.query<{ id: string, user_id: string, session_id: string, start_at: string, end_at: string, edits: string }>(
      'SELECT * FROM activity WHERE start_at < $2 AND end_at >= $1 ORDER BY start_at, id LIMIT $3', [from, to, limit])
    return rows.map(r => ({ id: r.id, userId: r.user_id, sessionId: r.session_id, start: Number(r.start_at), end: Number(r.end_at), edits: Number(r.edits) }))
  }

  async deleteActivityBefore (time: number, limit: number): Promise<number> {
    const res = await this.pool.query('DELETE FROM activity WHERE id IN (SELECT id FROM activity WHERE end_at < $1 LIMIT $2)', [time, limit])
    return res.rowCount ?? 0
  }

  private async one<T> (sql: string, params: [string]): Promise<T | undefined> {
    if (!storable(params[0])) return undefined
    const { rows } = await this.pool.query<{ record: T }>(sql, params)
    return rows[0]?.record
  }

  private async all<T> (sql: string, params: [string]): Promise<T[]> {
    if (!storable(params[0])) return []
    const { rows } = await this.pool.query<{ record: T }>(sql, params)
    return rows.map(r => r.record)
  }
}
