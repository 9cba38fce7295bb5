import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CloseCode, parseSessionEndedCloseReason } from '../../shared/protocol.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer } from '../helpers/server.js'
import { signedInDevice, secondDevice, PASSWORD, type TestDevice } from '../helpers/identity.js'
import { useTestDatabase } from '../storage/postgres.js'
import { totpCode } from '../../server/identity/mfa.js'

// Account export, deletion and retention, against both stores.
const db = useTestDatabase()
type Server = Awaited<ReturnType<typeof startServer>>
const servers: Server[] = []
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate()
  for (const s of servers.splice(0)) await s.close()
})
const start = async (store: 'level' | 'postgres', o: Parameters<typeof startServer>[0] = {}) => {
  const s = await startServer({ insecureNoAuth: false, store, databaseUrl: db.url, ...o })
  servers.push(s)
  return s
}
const raw = (app: Server, doc: string, token: string) => { const c = new RawClient(`${app.wsUrl}/${doc}?token=${encodeURIComponent(token)}`); clients.push(c); return c }

/** Every key and value (LevelDB) or every row of every table (PostgreSQL) that mentions one of `needles`. */
const storedMentions = async (app: Server, store: 'level' | 'postgres', needles: string[]): Promise<string[]> => {
  const found: string[] = []
  if (store === 'level') {
    for await (const [k, v] of app.db!.iterator({ keyEncoding: 'utf8', valueEncoding: 'view' })) {
      const text = k + Buffer.from(v).toString('latin1')
      if (needles.some(n => text.includes(n))) found.push(k)
    }
    return found
  }
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  try {
    const { rows: tables } = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    expect(tables.length).toBeGreaterThan(5)
    for (const { table_name: t } of tables) {
      const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${t}" t`)
      for (const { row } of rows) if (needles.some(n => row.includes(n))) found.push(`${t}: ${row.slice(0, 120)}`)
    }
    return found
  } finally {
    await client.end()
  }
}

const draft = async (d: TestDevice, title: string) => {
  const r = await d.api('POST', '/docs', { title })
  expect(r.status).toBe(201)
  return r.body as { id: string, docName: string }
}
const write = async (app: Server, d: TestDevice, doc: string, text: string) => {
  const c = raw(app, doc, d.tokens.accessToken)
  await c.opened
  await c.roundTrip()
  c.doc.getText('t').insert(0, text)
  await c.roundTrip()
  return c
}

describe.each(['level', 'postgres'] as const)('account deletion (%s)', store => {
  it('ends every session at once, hands over or deletes drafts, and leaves nothing of the account in the store', async () => {
    const app = await start(store)
    const alice = await signedInDevice(app.url)
    const phone = await secondDevice(alice, 'phone')
    const bob = await signedInDevice(app.url)
    const bobId = bob.tokens.userId
    const handed = await draft(alice, 'handed over')
    const dropped = await draft(alice, 'dropped')
    const bobs = await draft(bob, 'bob’s')
    expect((await alice.api('POST', `/docs/${handed.id}/members`, { email: bob.email, role: 'editor' })).status).toBe(200)
    expect((await bob.api('POST', `/docs/${bobs.id}/members`, { email: alice.email, role: 'editor' })).status).toBe(200)
    ;(await write(app, alice, alice.tokens.sessionDoc, 'my private notes')).ws.close()
    ;(await write(app, alice, handed.docName, 'shared text')).ws.close()
    ;(await write(app, alice, bobs.docName, 'alice was here')).ws.close()
    const live = raw(app, phone.tokens.sessionDoc, phone.tokens.accessToken)
    await live.opened
    const aliceId = alice.tokens.userId
    expect((await storedMentions(app, store, [aliceId])).length).toBeGreaterThan(0)

    // Refused without the password, with a wrong one, or with a transfer that cannot be: nothing changes.
    expect((await alice.api('DELETE', '/me', {})).body.error).toBe('invalid_credentials')
    expect((await alice.api('DELETE', '/me', { password: 'not the password at all' })).body.error).toBe('invalid_credentials')
    expect((await alice.api('DELETE', '/me', { password: PASSWORD, transfer: { [dropped.id]: bobId } })).body.error).toBe('invalid_request')
    expect((await alice.api('DELETE', '/me', { password: PASSWORD, transfer: { [bobs.id]: bobId } })).body.error).toBe('invalid_request')
    expect((await alice.api('DELETE', '/me', { password: PASSWORD, extra: 1 })).status).toBe(400)
    expect((await alice.api('GET', '/me')).status).toBe(200)

    expect((await alice.api('DELETE', '/me', { password: PASSWORD, transfer: { [handed.id]: bobId } })).status).toBe(204)
    expect(await live.closed).toBe(CloseCode.sessionEnded)
    expect(parseSessionEndedCloseReason(live.closeReason)?.reason).toBe('account_deleted')
    for (const d of [alice, phone]) {
      const me = await d.api('GET', '/me')
      expect(me.status).toBe(401)
      expect(me.body).toMatchObject({ error: 'session_ended', reason: 'account_deleted' })
      expect((await d.refresh()).status).toBe(401)
      await expect(d.socket(d.tokens.sessionDoc)).rejects.toMatchObject({ status: 401 })
    }
    expect((await alice.login()).body.error).toBe('invalid_credentials')

    const docs = (await bob.api('GET', '/docs')).body.docs as Array<{ id: string, role: string, members: Array<{ userId: string }> }>
    expect(docs.map(d => [d.id, d.role]).sort()).toEqual([[bobs.id, 'owner'], [handed.id, 'owner']].sort())
    for (const d of docs) expect(d.members.map(m => m.userId)).toEqual([bobId])
    const kept = await write(app, bob, handed.docName, '')
    expect(kept.doc.getText('t').toString()).toBe('shared text')

    expect(await storedMentions(app, store, [aliceId, alice.email])).toEqual([])
    // Bob's account is untouched.
    expect((await storedMentions(app, store, [bobId])).length).toBeGreaterThan(0)
    expect((await bob.api('GET', '/me')).status).toBe(200)
  })
})

describe('account deletion with MFA', () => {
  it('needs a fresh second factor (step-up), not the password', async () => {
    const app = await start('level')
    const d = await signedInDevice(app.url)
    const enroll = await d.api('POST', '/auth/mfa/enroll')
    const confirm = await d.api('POST', '/auth/mfa/confirm', { code: totpCode(enroll.body.secret) })
    expect(confirm.status).toBe(200)
    // The token was minted before the second factor was proven: the password alone is not enough.
    expect((await d.api('DELETE', '/me', { password: PASSWORD })).body.error).toBe('step_up_required')
    const up = await d.api('POST', '/auth/step-up', { code: confirm.body.recoveryCodes[0] })
    expect(up.status).toBe(200)
    expect((await d.api('DELETE', '/me', {}, up.body.accessToken)).status).toBe(204)
    expect((await d.api('GET', '/me', undefined, up.body.accessToken)).body.reason).toBe('account_deleted')
    expect(await storedMentions(app, 'level', [d.tokens.userId, d.email])).toEqual([])
  })
})

describe.each(['level', 'postgres'] as const)('retention (%s)', store => {
  it('a sweep past the retention period deletes security events and empties old sessions’ addresses', async () => {
    const app = await start(store, { retentionDays: 1 })
    const d = await signedInDevice(app.url)
    const store_ = app.identity!.identity.store
    const userId = d.tokens.userId
    // register, login_ok and new_device are stored in the background: all of them before the sweep.
    await expect.poll(async () => (await store_.securityEvents({ userId, limit: 10 })).length).toBeGreaterThanOrEqual(3)
    expect(await app.identity!.retention.sweep(Date.now())).toEqual({ events: 0, addresses: 0 })
    expect((await store_.sessionById(d.tokens.sessionId))?.lastIp).toBe('127.0.0.1')

    const swept = await app.identity!.retention.sweep(Date.now() + 2 * 24 * 3600_000)
    expect(swept.events).toBeGreaterThan(0)
    expect(swept.addresses).toBeGreaterThanOrEqual(1)
    expect(await store_.securityEvents({ userId, limit: 10 })).toEqual([])
    expect((await store_.sessionById(d.tokens.sessionId))?.lastIp).toBe('')
    // The session itself lives on.
    expect((await d.api('GET', '/me')).status).toBe(200)
  })
})

describe('account export', () => {
  it('streams the account, sessions, events and every owned document as JSON, without secrets', async () => {
    const app = await start('level', { exportsPerHour: 2 })
    const d = await signedInDevice(app.url)
    const other = await signedInDevice(app.url)
    const drafts: Array<{ id: string, docName: string }> = []
    for (let i = 0; i < 30; i++) drafts.push(await draft(d, `draft ${i}`))
    const notMine = await draft(other, 'not mine')
    expect((await other.api('POST', `/docs/${notMine.id}/members`, { email: d.email, role: 'editor' })).status).toBe(200)
    ;(await write(app, d, drafts[0]!.docName, 'first draft')).ws.close()
    // A big document: 1 MB of text in 1 KB edits, with a map and an array beside it.
    const big = raw(app, d.tokens.sessionDoc, d.tokens.accessToken)
    await big.opened
    await big.roundTrip()
    const line = 'x'.repeat(1023) + '\n'
    for (let i = 0; i < 1000; i++) big.doc.getText('notes').insert(i * line.length, line)
    big.doc.getMap('prefs').set('theme', 'dark')
    big.doc.getArray('tasks').push([{ title: 'write', done: false }])
    await big.roundTrip()
    big.ws.close()

    const res = await fetch(`${app.url}/me/export`, { headers: { authorization: `Bearer ${d.tokens.accessToken}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('transfer-encoding')).toBe('chunked')
    expect(res.headers.get('content-length')).toBeNull()
    let chunks = 0
    let text = ''
    const decoder = new TextDecoder()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) { chunks++; text += decoder.decode(chunk, { stream: true }) }
    expect(chunks).toBeGreaterThan(1)
    const archive = JSON.parse(text)
    expect(archive.account).toEqual({ id: d.tokens.userId, email: d.email, createdAt: expect.any(Number), mfaEnabled: false })
    expect(archive.sessions.map((s: { id: string }) => s.id)).toEqual([d.tokens.sessionId])
    expect(archive.securityEvents.map((e: { kind: string }) => e.kind)).toContain('login_ok')
    for (const secret of ['passwordHash', 'refreshHash', 'prevSealedSuccessor', 'mfaSecret', 'recoveryHashes', '$argon2']) expect(text).not.toContain(secret)
    expect(text).not.toContain(d.tokens.refreshToken)

    const docs = archive.documents as Array<{ name: string, kind: string, title?: string, content: Record<string, unknown>, update: string }>
    expect(docs).toHaveLength(31)
    expect(docs.map(x => x.name)).not.toContain(notMine.docName)
    expect(docs.find(x => x.name === drafts[0]!.docName)?.content).toEqual({ t: 'first draft' })
    const session = docs.find(x => x.kind === 'session')!
    expect(session.content.prefs).toEqual({ theme: 'dark' })
    expect(session.content.tasks).toEqual([{ title: 'write', done: false }])
    expect(session.content.notes).toBe(line.repeat(1000))
    const restored = new Y.Doc()
    Y.applyUpdate(restored, Buffer.from(session.update, 'base64'))
    expect(restored.getText('notes').length).toBe(line.length * 1000)

    // Rate limited per account.
    expect((await d.api('GET', '/me/export')).status).toBe(200)
    const limited = await d.api('GET', '/me/export')
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).not.toBeNull()
  }, 120_000)
})
