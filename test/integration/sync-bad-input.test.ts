import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { CloseCode, encodeUpdate } from '../../shared/protocol.js'
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

const frame = (...parts: ((e: encoding.Encoder) => void)[]) => {
  const e = encoding.createEncoder()
  for (const p of parts) p(e)
  return encoding.toUint8Array(e)
}

describe('bad input', () => {
  it('unknown message type → 4400', async () => {
    await attack(frame(e => encoding.writeVarUint(e, 42)), CloseCode.badMessage)
  })

  it('unknown sync sub-type → 4400', async () => {
    await attack(frame(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 9) }), CloseCode.badMessage)
  })

  it('truncated varint → 4400', async () => {
    await attack(Buffer.from([0x80, 0x80]), CloseCode.badMessage)
  })

  it('length prefix longer than the frame → 4400', async () => {
    await attack(frame(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 5000) }), CloseCode.badMessage)
  })

  it('empty frame → 4400', async () => {
    await attack(Buffer.alloc(0), CloseCode.badMessage)
  })

  it('garbage Yjs update → 4400 and nothing persisted', async () => {
    await attack(encodeUpdate(Uint8Array.from([1, 200, 3, 77, 9, 9, 9, 250, 250, 250])), CloseCode.badMessage)
  })

  it('truncated (half-applicable) Yjs update → 4400, document unchanged', async () => {
    const d = new Y.Doc()
    d.getText('t').insert(0, 'EVIL')
    d.getText('t').delete(0, 2)
    const full = Y.encodeStateAsUpdate(d)
    const attacker = await attack(encodeUpdate(full.subarray(0, full.length - 2)), CloseCode.badMessage)
    expect(attacker.closeReason).toMatch(/invalid update/)
    // the bystander's document never saw any of it
    const check = raw(`${server.wsUrl}/victim`)
    await waitFor(() => check.synced)
    expect(check.text()).not.toContain('EV')
  })

  // The room broadcasts an update as soon as it passes the check and applies it after the turn's
  // writes: each of these reads as far as Y.decodeUpdate is concerned (or fails only inside a value),
  // and would throw inside Y.applyUpdate. None may reach the other device.
  const rootText = (write: (e: encoding.Encoder) => void) => encodeUpdate(frame(e => {
    for (const n of [1, 2, 77, 0]) encoding.writeVarUint(e, n) // client 77: two structs from clock 0
    encoding.writeUint8(e, 4); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 't') // string into root text 't'
    encoding.writeVarString(e, 'EV') // clocks 0 and 1: valid on its own
    write(e)
    encoding.writeVarUint(e, 0)
  }))
  it('an update that refers forward in its own client (Yjs throws half-way) → 4400, not broadcast, nothing applied', async () => {
    const attacker = await attack(rootText(e => {
      encoding.writeUint8(e, 4 | 0b1000_0000); encoding.writeVarUint(e, 77); encoding.writeVarUint(e, 5) // origin 77:5, not yet written
      encoding.writeVarString(e, 'IL')
    }), CloseCode.badMessage)
    expect(attacker.closeReason).toMatch(/refers to a clock of its own client/)
  })

  it('a string that is not UTF-8 → 4400, not broadcast, nothing applied', async () => {
    const notUtf8 = await attack(rootText(e => {
      encoding.writeUint8(e, 4 | 0b1000_0000); encoding.writeVarUint(e, 77); encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, new Uint8Array([0x49, 0xff])) // 'I' and a byte UTF-8 never has
    }), CloseCode.badMessage)
    expect(notUtf8.closeReason).toMatch(/utf-8/)
  })

  it('an embed that is not JSON → 4400, not broadcast, nothing applied', async () => {
    const notJson = await attack(rootText(e => {
      encoding.writeUint8(e, 5 | 0b1000_0000); encoding.writeVarUint(e, 77); encoding.writeVarUint(e, 1)
      encoding.writeVarString(e, '{"embed":') // ContentEmbed
    }), CloseCode.badMessage)
    expect(notJson.closeReason).toMatch(/JSON/)
  })

  it('a value nested too deep for the stack → 4400, server and document unharmed', async () => {
    const e = encoding.createEncoder()
    for (const n of [1, 1, 77, 0]) encoding.writeVarUint(e, n) // one client, one struct
    encoding.writeUint8(e, 8 | 0b0010_0000) // ContentAny under a root map key
    encoding.writeVarUint(e, 1); encoding.writeVarString(e, 't'); encoding.writeVarString(e, 'deep')
    encoding.writeVarUint(e, 1)
    for (let i = 0; i < 400_000; i++) { encoding.writeUint8(e, 117); encoding.writeVarUint(e, 1) } // arrays in arrays
    encoding.writeUint8(e, 126)
    encoding.writeVarUint(e, 0)
    const attacker = await attack(encodeUpdate(encoding.toUint8Array(e)), CloseCode.badMessage)
    expect(attacker.closeReason).toMatch(/invalid update/)
  })

  it('message over the size limit → 1009 from its frame header, unread', async () => {
    await attack(encodeUpdate(new Uint8Array(3000)), CloseCode.messageTooLarge, { maxMessageBytes: 2048 })
    expect(CloseCode.messageTooLarge).toBe(1009)
  })

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
    for (const name of ['bad!name', '-leading', 'a'.repeat(129), '%E0%A4%A', 'sp%20ace', '..%2Fetc']) {
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
