import type { Level } from 'level'
import type { AbstractSublevel } from 'abstract-level'
import type { DocRecord, SessionRecord, SessionStore, UserRecord } from '../session-store.js'

type Sub<V> = AbstractSublevel<Level<string, Uint8Array>, string | Uint8Array | Buffer, string, V>

/**
 * SessionStore on LevelDB sublevels of the server's database (JSON values):
 * `users` id→user, `emails` canonical email→id, `sessions` id→session, `user-sessions` `<user>!<session>`,
 * `refresh` hash→session, `docs` id→doc, `user-docs` `<user>!<doc>`.
 * Index and record are always written in one batch.
 */
export class LevelSessionStore implements SessionStore {
  private readonly users: Sub<UserRecord>
  private readonly emails: Sub<string>
  private readonly sessions: Sub<SessionRecord>
  private readonly userSessions: Sub<string>
  private readonly refresh: Sub<string>
  private readonly docs: Sub<DocRecord>
  private readonly userDocs: Sub<string>
  // Registration must not race on one email: creations run one at a time (cheap, rare).
  private creating: Promise<unknown> = Promise.resolve()

  constructor (private readonly db: Level<string, Uint8Array>) {
    const sub = <V>(name: string) => db.sublevel<string, V>(name, { valueEncoding: 'json' }) as unknown as Sub<V>
    this.users = sub('users')
    this.emails = sub('emails')
    this.sessions = sub('sessions')
    this.userSessions = sub('user-sessions')
    this.refresh = sub('refresh')
    this.docs = sub('docs')
    this.userDocs = sub('user-docs')
  }

  createUser (user: UserRecord): Promise<boolean> {
    const run = this.creating.then(async () => {
      if (await this.emails.get(user.email) !== undefined) return false
      await this.db.batch([
        { type: 'put', sublevel: this.users, key: user.id, value: user },
        { type: 'put', sublevel: this.emails, key: user.email, value: user.id }
      ] as never)
      return true
    })
    this.creating = run.catch(() => {})
    return run
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
}
