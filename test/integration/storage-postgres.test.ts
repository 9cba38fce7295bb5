import fs from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CloseCode } from '../../shared/protocol.js'
import { createLogger } from '../../server/observe/logger.js'
import { PostgresDocStore } from '../../server/storage/postgres/doc-store.js'
import { startChildServer, type ChildServer } from '../helpers/child-server.js'
import { signedInDevice, startIdentityServer, TestDevice } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { startServer, tempDir, waitFor } from '../helpers/server.js'
import { useTestDatabase } from '../storage/postgres.js'

const db = useTestDatabase()
type Server = Awaited<ReturnType<typeof startServer>>

const servers: Server[] = []
const children: ChildServer[] = []
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate()
  for (const s of servers.splice(0)) await s.close()
  for (const c of children.splice(0)) { c.proc.kill('SIGKILL'); await c.exited }
})
const raw = (url: string) => { const c = new RawClient(url); clients.push(c); return c }
const docSocket = (server: Server, doc: string, token: string) => raw(`${server.wsUrl}/${doc}?token=${encodeURIComponent(token)}`)
/** The document as a fresh server would load it, read on a pool of the test's own. */
const stored = async (doc: string) => {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 })
  try {
    const { update } = await new PostgresDocStore(pool, { flushIntervalMs: 5, maxBatchOps: 10, logger: createLogger('silent') }).load(doc)
    const ydoc = new Y.Doc()
    if (update) Y.applyUpdate(ydoc, update)
    return ydoc.getArray<number>('a').toArray()
  } finally {
    await pool.end()
  }
}
const count = async (sql: string, params: unknown[]) => {
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  try { return (await client.query<{ n: number }>(sql, params)).rows[0]!.n } finally { await client.end() }
}

describe('--store postgres', () => {
  it('signs in, shares and syncs a document, and finds account, sessions and content again after a restart', async () => {
    const dataDir = await tempDir()
    const start = async (port = 0) => {
      const s = await startIdentityServer({ store: 'postgres', databaseUrl: db.url, dataDir, port })
      servers.push(s)
      return s
    }
    let server = await start()
    const owner = await signedInDevice(server.url)
    const editor = await signedInDevice(server.url)
    const { id, docName } = (await owner.api('POST', '/docs', { title: 'Plan' })).body
    expect((await owner.api('POST', `/docs/${id}/members`, { email: editor.email, role: 'editor' })).status).toBe(200)
    const o = docSocket(server, docName, owner.tokens.accessToken)
    const e = docSocket(server, docName, editor.tokens.accessToken)
    await waitFor(() => o.synced && e.synced, 5000, 'both synced')
    o.doc.getText('t').insert(0, 'owner ')
    await waitFor(() => e.text() === 'owner ', 5000, 'the editor sees the owner')
    e.doc.getText('t').insert(6, 'editor')
    await waitFor(() => o.text() === 'owner editor' && e.text() === 'owner editor', 5000, 'both see both edits')
    // The session document of the owner's device too.
    const session = docSocket(server, owner.tokens.sessionDoc, owner.tokens.accessToken)
    await waitFor(() => session.synced, 5000, 'session doc synced')
    session.doc.getMap('state').set('cursor', 3)
    await waitFor(async () => await count('SELECT count(*)::int AS n FROM doc_updates WHERE name = $1', [owner.tokens.sessionDoc]) > 0, 5000, 'the session doc written')
    expect(await count('SELECT count(*)::int AS n FROM users WHERE email = ANY($1)', [[owner.email, editor.email]])).toBe(2)
    await fs.access(path.join(dataDir, 'db')).then(() => { throw new Error('LevelDB opened with --store postgres') }, () => {})

    servers.splice(servers.indexOf(server), 1)
    const closed = server.close()
    expect(await o.closed).toBe(CloseCode.goingAway)
    await closed
    server = await start(Number(new URL(server.url).port)) // the devices' DPoP proofs name the origin

    // Accounts and device sessions: the refresh token still works, a fresh login too.
    expect((await owner.refresh()).status).toBe(200)
    const again = await TestDevice.create(server.url, editor.email, 'second')
    expect((await again.login()).status).toBe(200)
    expect((await again.api('GET', '/docs')).body.docs).toEqual([expect.objectContaining({ id, role: 'editor', title: 'Plan' })])
    expect((await owner.api('GET', '/sessions')).body.sessions).toHaveLength(1)
    // Documents: as they were.
    const reader = docSocket(server, docName, again.tokens.accessToken)
    await waitFor(() => reader.synced, 5000, 'reader synced')
    expect(reader.text()).toBe('owner editor')
    const sessionAgain = docSocket(server, owner.tokens.sessionDoc, owner.tokens.accessToken)
    await waitFor(() => sessionAgain.synced, 5000, 'session doc synced')
    expect(sessionAgain.doc.getMap('state').get('cursor')).toBe(3)
    // Deleting the draft deletes its rows.
    expect((await owner.api('DELETE', `/docs/${id}`)).status).toBe(204)
    expect(await reader.closed).toBe(CloseCode.accessChanged)
    expect(await count('SELECT count(*)::int AS n FROM doc_updates WHERE name = $1', [docName])).toBe(0)
    expect(await count('SELECT count(*)::int AS n FROM doc_snapshots WHERE name = $1', [docName])).toBe(0)
  })

  it('a NUL character, which PostgreSQL text cannot hold, gets the answers any unknown input gets', async () => {
    const server = await startIdentityServer({ store: 'postgres', databaseUrl: db.url })
    servers.push(server)
    const d = await TestDevice.create(server.url, 'nul\u0000byte@example.com')
    expect((await d.register()).body.error).toBe('invalid_email')
    expect((await d.login()).body.error).toBe('invalid_credentials')
    const owner = await signedInDevice(server.url)
    expect((await owner.api('GET', '/docs/nul%00id')).status).toBe(404)
  })

  it('the CLI reads SYNC_STORE and DATABASE_URL; what the batch window wrote survives a SIGKILL', async () => {
    const dataDir = await tempDir()
    const env = { DATABASE_URL: db.url, SYNC_STORE: 'postgres' }
    const first = await startChildServer(['--data-dir', dataDir, '--insecure-no-auth', '--flush-ms', '10'], env)
    children.push(first)
    const writer = raw(`${first.wsUrl}/crashy`)
    await waitFor(() => writer.synced, 5000, 'writer synced')
    for (let i = 0; i < 200; i++) writer.doc.getArray<number>('a').push([i])
    // Written by the batch window alone (no flush, no shutdown): then the process dies.
    await waitFor(async () => (await stored('crashy')).length === 200, 10_000, 'every update in the database')
    first.proc.kill('SIGKILL')
    await first.exited
    const second = await startChildServer(['--data-dir', dataDir, '--insecure-no-auth'], env)
    children.push(second)
    const reader = raw(`${second.wsUrl}/crashy`)
    await waitFor(() => reader.synced, 5000, 'reader synced')
    expect(reader.doc.getArray('a').toArray()).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })

  it('refuses to start with --store postgres and no database URL, or an unknown store', async () => {
    const dataDir = await tempDir()
    const noUrl = await startChildServer(['--data-dir', dataDir, '--store', 'postgres'], { DATABASE_URL: '', SYNC_DATABASE_URL: '' }).catch((err: Error) => err)
    expect(String(noUrl)).toMatch(/--store postgres needs --database-url/)
    const unknown = await startChildServer(['--data-dir', dataDir, '--store', 'mongo']).catch((err: Error) => err)
    expect(String(unknown)).toMatch(/--store must be level or postgres, got mongo/)
  })

  it('an unreachable database ends the start with an error that does not show the password', async () => {
    const failed = await startChildServer(['--data-dir', await tempDir(), '--store', 'postgres'], { SYNC_DATABASE_URL: 'postgres://sync:hunter2-secret@127.0.0.1:1/sync' }).catch((err: Error) => err)
    expect(String(failed)).toMatch(/PostgreSQL at 127\.0\.0\.1:1\/sync: .*ECONNREFUSED/)
    expect(String(failed)).not.toContain('hunter2-secret')
  })
})
