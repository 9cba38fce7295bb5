import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { CloseCode, encodeUpdate } from '../../shared/protocol.js'
import { BAD_DOC_NAMES, BAD_FRAMES } from '../helpers/bad-frames.js'
import { startServer, waitFor } from '../helpers/server.js'
import { RawClient } from '../helpers/raw-client.js'

type Server = Awaited<ReturnType<typeof startServer>>
let server: Server
const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate()
  await server?.close()
})
const raw = (url: string) => { const c = new RawClient(url); clients.push(c); return c }

/** A bystander on the same document and one on another: both must keep working after each attack. */
const bystanders = async (s: Server) => {
  const same = raw(`${s.wsUrl}/victim`)
  const other = raw(`${s.wsUrl}/elsewhere`)
  await waitFor(() => same.synced && other.synced)
  same.doc.getText('t').insert(0, 'before')
  await waitFor(() => s.rooms.size === 2)
  return { same, other }
}

const stillServing = async (s: Server, same: RawClient, other: RawClient) => {
  expect(same.ws.readyState).toBe(WebSocket.OPEN)
  expect(other.ws.readyState).toBe(WebSocket.OPEN)
  const fresh = raw(`${s.wsUrl}/victim`)
  await waitFor(() => fresh.synced && fresh.text() === 'before', 3000, 'fresh client sees intact document')
  fresh.doc.getText('t').insert(6, '+after')
  await waitFor(() => same.text() === 'before+after')
  other.doc.getText('t').insert(0, 'ok')
  await other.roundTrip() // its update was handled: a refusal would have closed it first
  expect(other.ws.readyState).toBe(WebSocket.OPEN)
}

const attack = async (bytes: Uint8Array | Buffer, expected: number, overrides = {}) => {
  server = await startServer(overrides)
  const { same, other } = await bystanders(server)
  const attacker = raw(`${server.wsUrl}/victim`)
  await waitFor(() => attacker.synced)
  const seenBefore = same.received.length
  attacker.sendRaw(bytes)
  expect(await attacker.closed).toBe(expected)
  // Anything the attack made the server send the bystander arrives before the reply to its round trip.
  await same.roundTrip()
  expect(same.received.length, 'the bystander on the document received nothing of the attack but the reply').toBe(seenBefore + 1)
  await stillServing(server, same, other)
  await storedIntact(server)
  return attacker
}

/** Restart on the same data dir: storage holds exactly the good edits, nothing from the attacker. */
const storedIntact = async (s: Server) => {
  const dataDir = s.config.dataDir
  for (const c of clients.splice(0)) c.ws.terminate()
  await s.close()
  server = await startServer({ dataDir })
  const check = raw(`${server.wsUrl}/victim`)
  await waitFor(() => check.synced)
  expect(check.text()).toBe('before+after')
  expect(check.doc.getText('big').length).toBe(0)
}

describe('bad input', () => {
  for (const bad of BAD_FRAMES) {
    it(bad.name, async () => {
      // The size case runs against a small limit: its message is 1000 bytes past it.
      const sizeCase = bad.code === CloseCode.messageTooLarge
      const attacker = await attack(bad.bytes(2048), bad.code, sizeCase ? { maxMessageBytes: 2048 } : {})
      if (bad.reason) expect(attacker.closeReason).toMatch(bad.reason)
    }, 60_000)
  }

  it('a message of exactly the size limit is accepted', async () => {
    server = await startServer({ maxMessageBytes: 2048 })
    const { same } = await bystanders(server)
    // An insert whose message is exactly 2048 bytes long.
    const messageOf = (n: number) => { const d = new Y.Doc(); d.getText('t').insert(0, 'x'.repeat(n)); return encodeUpdate(Y.encodeStateAsUpdate(d)) }
    let n = 2000
    while (messageOf(n).byteLength < 2048) n++
    const message = messageOf(n)
    expect(message.byteLength).toBe(server.config.maxMessageBytes)
    const c = raw(`${server.wsUrl}/victim`)
    await waitFor(() => c.synced)
    c.sendRaw(message)
    await waitFor(() => same.text().includes('x'.repeat(n)), 3000, 'the edit at the limit arrives')
    expect(c.closeCode).toBeNull()
  })

  it('invalid document names → 4404', async () => {
    server = await startServer()
    const { same, other } = await bystanders(server)
    for (const name of BAD_DOC_NAMES) {
      const c = raw(`${server.wsUrl}/${name}`)
      expect(await c.closed).toBe(CloseCode.invalidDocName)
    }
    await stillServing(server, same, other)
  })

  it('wrong path gets HTTP 404 and no socket', async () => {
    server = await startServer()
    const c = new RawClient(`${server.url.replace('http', 'ws')}/nope/doc`)
    clients.push(c)
    await expect(c.opened).rejects.toMatchObject({ status: 404 })
  })

  it('a client that stops reading is closed with 4408 instead of growing memory', async () => {
    server = await startServer({ maxBufferedBytes: 64 * 1024 })
    const { same, other } = await bystanders(server)
    const slow = raw(`${server.wsUrl}/victim`)
    await waitFor(() => slow.synced)
    slow.ws.pause() // stop reading: the kernel buffers fill, then ws's send buffer grows
    const writer = raw(`${server.wsUrl}/victim`)
    await waitFor(() => writer.synced)
    const big = 'x'.repeat(32 * 1024)
    const deadline = Date.now() + 15_000
    let closedCode: number | null = null
    void slow.closed.then(c => { closedCode = c })
    // Bounded: at most ~15 s or 4000 writes.
    for (let i = 0; i < 4000 && Date.now() < deadline; i++) {
      writer.doc.getText('big').insert(0, big)
      if (i % 20 === 0) await new Promise(r => setTimeout(r, 5))
      const closedByServer = (await server.metrics.rejected.get()).values.some(v => v.labels.code === CloseCode.slowConsumer)
      if (closedByServer) break
    }
    const counted = (await server.metrics.rejected.get()).values.find(v => v.labels.code === CloseCode.slowConsumer)
    expect(counted?.value).toBe(1)
    slow.ws.resume()
    // Reading resumes: the client drains megabytes the server buffered before the close frame.
    await waitFor(() => closedCode !== null, 30_000, 'slow client closed')
    expect(closedCode).toBe(CloseCode.slowConsumer)
    expect(writer.ws.readyState).toBe(WebSocket.OPEN)
    await stillServing(server, same, other)
  }, 90_000)
})
