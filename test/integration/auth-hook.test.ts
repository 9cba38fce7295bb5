import { afterEach, describe, expect, it } from 'vitest'
import { Writable } from 'node:stream'
import { startServer, waitFor } from '../helpers/server.js'
import { RawClient } from '../helpers/raw-client.js'
import { AuthRejection, type Principal } from '../../server/transport/auth-hook.js'
import { createLogger } from '../../server/observe/logger.js'
import { CloseCode } from '../../shared/protocol.js'

type Server = Awaited<ReturnType<typeof startServer>>
let server: Server | undefined
const clients: RawClient[] = []
afterEach(async () => { for (const c of clients.splice(0)) c.ws.terminate(); await server?.close(); server = undefined })
const raw = (url: string) => { const c = new RawClient(url); clients.push(c); return c }

/** A stand-in hook: `?token=w-<user>` writes, `?token=r-<user>` reads, anything else is refused. */
const hook = async (req: { url?: string }, doc: string): Promise<Principal> => {
  const token = new URL(req.url!, 'http://x').searchParams.get('token') ?? ''
  if (!token) throw new AuthRejection(401, 'invalid_token', 'missing token')
  if (doc === 'forbidden') throw new AuthRejection(403, 'forbidden', 'no access')
  const [mode, user] = token.split('-')
  if (mode !== 'w' && mode !== 'r') throw new AuthRejection(401, 'invalid_token', 'bad token')
  return { userId: user!, sessionId: `s-${user}`, access: mode === 'w' ? 'write' : 'read', expiresAt: token.endsWith('-short') ? Date.now() + 300 : undefined }
}

const captureLogs = () => {
  const lines: string[] = []
  const logger = createLogger('debug', new Writable({ write (c, _e, cb) { lines.push(String(c)); cb() } }))
  return { lines, logger }
}

describe('authenticate hook', () => {
  it('refuses before accepting (401/403, no socket) and never logs the token', async () => {
    const { lines, logger } = captureLogs()
    server = await startServer({ logLevel: 'debug' }, { authenticate: hook, logger })
    const noToken = raw(`${server.wsUrl}/doc`)
    await expect(noToken.opened).rejects.toMatchObject({ status: 401 })
    const bad = raw(`${server.wsUrl}/doc?token=SUPERSECRETVALUE`)
    await expect(bad.opened).rejects.toMatchObject({ status: 401 })
    const forbidden = raw(`${server.wsUrl}/forbidden?token=w-alice`)
    await expect(forbidden.opened).rejects.toMatchObject({ status: 403 })
    expect(server.metrics.hot.messagesIn.reduce((a, b) => a + b, 0)).toBe(0)
    // The logger writes asynchronously: wait for the three refusals' lines.
    await waitFor(() => lines.join('').split('upgrade refused').length - 1 >= 3, 5000, 'three refusals logged')
    expect(lines.join('')).not.toContain('SUPERSECRETVALUE')
  })

  it('read-only principals never change the document, in memory or on disk', async () => {
    server = await startServer({}, { authenticate: hook })
    const writer = raw(`${server.wsUrl}/d?token=w-alice`)
    const viewer = raw(`${server.wsUrl}/d?token=r-bob`)
    await waitFor(() => writer.synced && viewer.synced)
    writer.doc.getText('t').insert(0, 'owner text')
    await waitFor(() => viewer.text() === 'owner text')
    viewer.doc.getText('t').insert(0, 'VIEWER ')
    // the viewer is told once and its update is dropped; the writer never sees it
    await waitFor(() => viewer.received.some(m => m[0] === 2), 3000, 'permission-denied message')
    writer.doc.getText('t').insert(10, '!')
    await waitFor(() => viewer.text().endsWith('!'))
    expect(writer.text()).toBe('owner text!')
    const dataDir = server.config.dataDir
    for (const c of clients.splice(0)) c.ws.terminate()
    await server.close()
    server = await startServer({ dataDir }, { authenticate: hook })
    const check = raw(`${server.wsUrl}/d?token=w-alice`)
    await waitFor(() => check.synced)
    expect(check.text()).toBe('owner text!')
  })

  it('closes a socket with 4401 when its credential expires', async () => {
    server = await startServer({}, { authenticate: hook })
    const c = raw(`${server.wsUrl}/d?token=w-carol-short`)
    await waitFor(() => c.synced)
    expect(await c.closed).toBe(CloseCode.tokenExpired)
  })

  it('closes every socket of a session with 4403 on demand', async () => {
    server = await startServer({}, { authenticate: hook })
    const a = raw(`${server.wsUrl}/one?token=w-dave`)
    const b = raw(`${server.wsUrl}/two?token=w-dave`)
    const other = raw(`${server.wsUrl}/one?token=w-erin`)
    await waitFor(() => a.synced && b.synced && other.synced)
    expect(server.sessions.count('s-dave')).toBe(2)
    expect(server.sessions.close('s-dave', CloseCode.sessionEnded, 'revoked')).toBe(2)
    expect(await a.closed).toBe(CloseCode.sessionEnded)
    expect(await b.closed).toBe(CloseCode.sessionEnded)
    expect(other.closeCode).toBeNull()
    expect(server.sessions.count('s-dave')).toBe(0)
  })

  it('a close reason too long for a close frame is cut on a character boundary, never thrown on', async () => {
    server = await startServer({}, { authenticate: hook })
    const a = raw(`${server.wsUrl}/one?token=w-frank`)
    await waitFor(() => a.synced)
    expect(server.sessions.close('s-frank', CloseCode.sessionEnded, 'é'.repeat(100))).toBe(1) // 200 bytes
    expect(await a.closed).toBe(CloseCode.sessionEnded)
    expect(a.closeReason).toBe('é'.repeat(61)) // 122 bytes: the 123rd would split a character
  })
})
