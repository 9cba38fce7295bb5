import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import pg from 'pg'
import * as Y from 'yjs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { CloseCode } from '../../shared/protocol.js'
import { secondDevice, signedInDevice, startIdentityServer } from '../helpers/identity.js'
import { RawClient } from '../helpers/raw-client.js'
import { tempDir, waitFor } from '../helpers/server.js'
import { useTestDatabase } from '../storage/postgres.js'
import { createLogger } from '../../server/observe/logger.js'
import { PostgresDocStore } from '../../server/storage/postgres/doc-store.js'

/** The machine's Redis (.ci/run starts it); SYNC_TEST_REDIS_URL points the tests at another one. */
const REDIS_URL = process.env.SYNC_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
/** Every key of this run starts with it; removed after the file. */
const prefix = `sync-test:${process.pid}:${randomBytes(4).toString('hex')}:`

const db = useTestDatabase()
type Server = Awaited<ReturnType<typeof startIdentityServer>>
const servers: Server[] = []
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate()
  for (const s of servers.splice(0)) await s.close()
})
afterAll(async () => {
  const redis = new Redis(REDIS_URL, { protocol: 2 })
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

/** Two nodes on one PostgreSQL database and one Redis, sharing the signing keys (one data dir). */
const twoNodes = async (dataDir?: string) => {
  dataDir ??= await tempDir()
  const start = async () => {
    const s = await startIdentityServer({ store: 'postgres', databaseUrl: db.url, dataDir, redisUrl: REDIS_URL, redisPrefix: prefix })
    servers.push(s)
    return s
  }
  const a = await start()
  const b = await start()
  return { a, b, dataDir }
}
const docSocket = (server: Server, doc: string, token: string) => {
  const c = new RawClient(`${server.wsUrl}/${doc}?token=${encodeURIComponent(token)}`)
  clients.push(c)
  return c
}

/** A new document of `owner`'s with 'A' typed through node A and then 'B' through node B, each seen on the other node. */
const editedOnBoth = async (a: Server, b: Server, owner: Awaited<ReturnType<typeof signedInDevice>>, title: string): Promise<string> => {
  const { docName } = (await owner.api('POST', '/docs', { title })).body
  const onA = docSocket(a, docName, owner.tokens.accessToken)
  const onB = docSocket(b, docName, owner.tokens.accessToken)
  await waitFor(() => onA.synced && onB.synced, 5000, 'both synced')
  onA.doc.getText('t').insert(0, 'A')
  await waitFor(() => onB.text() === 'A', 5000, 'B sees A')
  onB.doc.getText('t').insert(1, 'B')
  await waitFor(() => onA.text() === 'AB', 5000, 'A sees B')
  return docName as string
}

/** The text of `doc` as a fresh node would load it now, read on a pool of the test's own. */
const storedText = async (doc: string) => {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 })
  try {
    const { update } = await new PostgresDocStore(pool, { flushIntervalMs: 5, maxBatchOps: 10, logger: createLogger('silent') }).load(doc)
    const ydoc = new Y.Doc()
    if (update) Y.applyUpdate(ydoc, update)
    return ydoc.getText('t').toString()
  } finally {
    await pool.end()
  }
}

describe('--redis-url: two nodes', () => {
  it('an edit through node A reaches a device on node B, and back', async () => {
    const { a, b } = await twoNodes()
    const owner = await signedInDevice(a.url)
    const editor = await signedInDevice(a.url)
    const { id, docName } = (await owner.api('POST', '/docs', { title: 'Plan' })).body
    expect((await owner.api('POST', `/docs/${id}/members`, { email: editor.email, role: 'editor' })).status).toBe(200)
    const onA = docSocket(a, docName, owner.tokens.accessToken)
    const onB = docSocket(b, docName, editor.tokens.accessToken)
    await waitFor(() => onA.synced && onB.synced, 5000, 'both synced')
    onA.doc.getText('t').insert(0, 'from A ')
    await waitFor(() => onB.text() === 'from A ', 5000, 'the device on B to see the edit made on A')
    onB.doc.getText('t').insert(7, 'from B')
    await waitFor(() => onA.text() === 'from A from B', 5000, 'the device on A to see the edit made on B')
    // A device that joins on B later gets both edits from storage and the stream.
    const late = docSocket(b, docName, owner.tokens.accessToken)
    await waitFor(() => late.synced && late.text() === 'from A from B', 5000, 'a later device on B')
  })

  it('edits made through both nodes are all in storage after both shut down', async () => {
    const { a, b, dataDir } = await twoNodes()
    const owner = await signedInDevice(a.url)
    const docName = await editedOnBoth(a, b, owner, 'Both')
    for (const c of clients.splice(0)) c.ws.terminate()
    for (const s of servers.splice(0)) await s.close()
    const { a: fresh } = await twoNodes(dataDir)
    const reader = docSocket(fresh, docName, owner.tokens.accessToken)
    await waitFor(() => reader.synced, 5000, 'synced after the restart')
    expect(reader.text()).toBe('AB')
  })

  it('a remote sign-out on node A closes the device\'s socket on node B (4403)', async () => {
    const { a, b } = await twoNodes()
    const laptop = await signedInDevice(a.url)
    const phone = await secondDevice(laptop, 'phone')
    const phoneOnB = docSocket(b, phone.tokens.sessionDoc, phone.tokens.accessToken)
    const laptopOnB = docSocket(b, laptop.tokens.sessionDoc, laptop.tokens.accessToken)
    await waitFor(() => phoneOnB.synced && laptopOnB.synced, 5000, 'both synced on B')
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(204)
    expect(await phoneOnB.closed).toBe(CloseCode.sessionEnded)
    expect(phoneOnB.closeReason).toMatch(/device session ended/)
    // The other device's socket stays open.
    expect(laptopOnB.closeCode).toBeNull()
  })

  it('a logout on node A closes that device\'s sockets on node B', async () => {
    const { a, b } = await twoNodes()
    const device = await signedInDevice(a.url)
    const onB = docSocket(b, device.tokens.sessionDoc, device.tokens.accessToken)
    await waitFor(() => onB.synced, 5000, 'synced on B')
    expect((await device.api('POST', '/auth/logout')).status).toBe(204)
    expect(await onB.closed).toBe(CloseCode.sessionEnded)
  })

  // Each node's appends carry keys of their own (store id and counter): none is dropped as a duplicate.
  it('the log in PostgreSQL holds the edits of both nodes before any compaction', async () => {
    const { a, b } = await twoNodes()
    const owner = await signedInDevice(a.url)
    const docName = await editedOnBoth(a, b, owner, 'Log')
    await waitFor(async () => await storedText(docName) === 'AB', 3000, 'both edits in the stored log')
  })
})

