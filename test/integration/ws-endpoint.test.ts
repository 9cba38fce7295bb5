import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CloseCode, SYNC_SUBPROTOCOL, encodeUpdate } from '../../shared/protocol.js'
import { serverFixtures, waitFor } from '../helpers/server.js'
import { TcpWs, clientFrame, closePayload } from '../helpers/tcp-ws.js'

/**
 * The sync endpoint (server/transport/upgrade.ts on `ws`) at the byte level: a hand-built client on a
 * plain TCP socket sends valid and broken handshakes and frames, and a y-websocket peer on the same
 * document checks that nothing leaks to it and that it keeps working.
 */

const { start, raw, onCleanup } = serverFixtures()
const BINARY = 0x2; const TEXT = 0x1; const CONT = 0x0; const CLOSE = 0x8; const PING = 0x9; const PONG = 0xa
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

const tcp = async (url: string, path = '/sync/victim', headers: Record<string, string | null> = {}) => {
  const c = await TcpWs.open(url, path, headers)
  onCleanup(() => c.socket.destroy())
  return c
}

const connections = async (s: Awaited<ReturnType<typeof start>>) => (await s.metrics.connections.get()).values[0]?.value ?? 0

/** A Yjs update that sets `key` in the map `m`, and the peer that should see it. */
const editOf = (key: string) => {
  const d = new Y.Doc()
  d.getMap('m').set(key, 'v')
  return Y.encodeStateAsUpdate(d)
}

/** A server, a y-websocket peer synced on `victim`, and a hand-built client past its handshake on the same document. */
const peerAndClient = async (overrides = {}) => {
  const s = await start(overrides)
  const peer = raw(`${s.wsUrl}/victim`)
  await waitFor(() => peer.synced)
  const c = await tcp(s.url)
  await c.head()
  return { s, peer, c }
}

describe('WebSocket endpoint: opening handshake', () => {
  it('answers 101 with the RFC 6455 accept key, echoes only the sync subprotocol (never a token), then greets', async () => {
    const s = await start()
    const key = 'dGhlIHNhbXBsZSBub25jZQ=='
    const c = await tcp(s.url, '/sync/victim', { 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Protocol': `token.secret-value, ${SYNC_SUBPROTOCOL}` })
    const head = await c.head()
    expect(c.status).toBe(101)
    // RFC 6455 §1.3's worked example: this key is answered with this accept value.
    expect(head).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
    expect(createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
    expect(head).toContain(`Sec-WebSocket-Protocol: ${SYNC_SUBPROTOCOL}`)
    expect(head).not.toContain('secret-value')
    const greeting = await c.frame(f => f.opcode === BINARY)
    expect([...greeting.payload.subarray(0, 2)]).toEqual([0, 0]) // sync step 1
    expect(greeting.fin).toBe(true)

    const noProtocol = await tcp(s.url, '/sync/victim', { 'Sec-WebSocket-Protocol': 'token.only' })
    expect(await noProtocol.head()).not.toContain('Sec-WebSocket-Protocol')
  })

  it('refuses broken handshakes with an HTTP status and no socket', async () => {
    const s = await start()
    const cases: Array<[Record<string, string | null>, number, RegExp]> = [
      [{ 'Sec-WebSocket-Version': '12' }, 426, /Sec-WebSocket-Version must be 13/],
      [{ 'Sec-WebSocket-Key': 'too-short' }, 400, /Sec-WebSocket-Key/],
      [{ 'Sec-WebSocket-Key': null }, 400, /Sec-WebSocket-Key/],
      [{ Upgrade: 'h2c' }, 400, /Upgrade header/],
      [{ ':method': 'POST' }, 405, /GET/]
    ]
    for (const [headers, status, text] of cases) {
      const c = await tcp(s.url, '/sync/victim', headers)
      await c.closed
      expect(c.status, JSON.stringify(headers)).toBe(status)
      expect(JSON.parse(c.body), JSON.stringify(headers)).toMatchObject({ error: 'bad_handshake', message: expect.stringMatching(text) })
      if (status === 426) expect(c.response).toContain('Sec-WebSocket-Version: 13, 8')
      expect(c.frames).toHaveLength(0)
    }
    expect(await connections(s)).toBe(0)
  })
})

describe('WebSocket endpoint: frames', () => {
  it('joins a fragmented message split across TCP writes at every awkward offset, with a ping in between', async () => {
    const { peer, c } = await peerAndClient()
    const message = encodeUpdate(editOf('fragmented'))
    const third = Math.ceil(message.length / 3)
    const bytes = Buffer.concat([
      clientFrame(BINARY, message.subarray(0, third), { fin: false }),
      clientFrame(PING, Buffer.from('are you there')),
      clientFrame(CONT, message.subarray(third, 2 * third), { fin: false }),
      clientFrame(CONT, message.subarray(2 * third), { fin: true })
    ])
    // One byte at a time for the first frame (header, mask and payload each split), then odd sizes.
    for (let i = 0; i < bytes.length;) {
      const n = i < 12 ? 1 : 7
      c.send(bytes.subarray(i, i + n))
      i += n
      await sleep(i < 12 ? 3 : 0) // pacing, not waiting: separate TCP segments, so the server sees partial frames
    }
    const pong = await c.frame(f => f.opcode === PONG)
    expect(pong.payload.toString()).toBe('are you there')
    await waitFor(() => peer.doc.getMap('m').get('fragmented') === 'v', 3000, 'the peer gets the fragmented edit')
  })

  it('a binary message above 64 KiB (16- and 64-bit lengths) arrives whole', async () => {
    const { peer, c } = await peerAndClient()
    const d = new Y.Doc()
    d.getMap('m').set('big', 'x'.repeat(70_000))
    d.getMap('m').set('mid', 'y'.repeat(300))
    c.send(clientFrame(BINARY, encodeUpdate(Y.encodeStateAsUpdate(d))))
    await waitFor(() => (peer.doc.getMap('m').get('big') as string | undefined)?.length === 70_000, 3000, 'the big edit')
    expect(peer.doc.getMap('m').get('mid')).toBe('y'.repeat(300))
  })

  const broken: Array<[string, (limit: number) => Buffer[], number]> = [
    ['an unmasked frame', () => [clientFrame(BINARY, encodeUpdate(editOf('a')), { mask: false })], 1002],
    ['reserved bits set', () => [clientFrame(BINARY, encodeUpdate(editOf('a')), { rsv: 0x40 })], 1002],
    ['an unknown opcode', () => [clientFrame(0x3, Buffer.from([1, 2, 3]))], 1002],
    ['a continuation frame outside a message', () => [clientFrame(CONT, encodeUpdate(editOf('a')))], 1002],
    ['a new message inside a fragmented one', () => [clientFrame(BINARY, Buffer.from([0]), { fin: false }), clientFrame(BINARY, encodeUpdate(editOf('a')))], 1002],
    ['a ping over 125 bytes', () => [clientFrame(PING, Buffer.alloc(126))], 1002],
    ['a fragmented ping', () => [clientFrame(PING, Buffer.from('x'), { fin: false })], 1002],
    ['a close frame of one byte', () => [clientFrame(CLOSE, Buffer.from([3]))], 1002],
    ['a close frame with a reserved code', () => [clientFrame(CLOSE, closePayload(1005))], 1002],
    ['a text message that is not UTF-8', () => [clientFrame(TEXT, Buffer.from([0xc3, 0x28]))], 1007],
    ['a close reason that is not UTF-8', () => [clientFrame(CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])]))], 1007],
    ['one frame over the limit', limit => [clientFrame(BINARY, Buffer.alloc(limit + 1))], 1009],
    ['fragments, each under the limit, adding up to more than it', limit => [clientFrame(BINARY, Buffer.alloc(limit / 2 + 10), { fin: false }), clientFrame(CONT, Buffer.alloc(limit / 2 + 10))], 1009],
    ['a 64-bit length past 2^53 (nothing sent after the header)', () => [clientFrame(BINARY, new Uint8Array(0), { length: 2 ** 60 }).subarray(0, 14)], 1009]
  ]
  for (const [what, frames, code] of broken) {
    it(`${what} → ${code}, the TCP connection ends, nothing reaches the peer, the server keeps serving`, async () => {
      const { s, peer, c } = await peerAndClient({ maxMessageBytes: 2048 })
      const seen = peer.received.length
      for (const f of frames(2048)) c.send(f)
      expect((await c.closeFrame()).code).toBe(code)
      await c.closed
      if (code === 1009) expect((await s.metrics.rejected.get()).values.find(v => v.labels.code === 1009)?.value).toBe(1)
      // Whatever the server sent the peer while handling those frames arrives before this reply.
      await peer.roundTrip()
      expect(peer.received.length).toBe(seen + 1)
      expect(peer.doc.getMap('m').size).toBe(0)
      // Still serving: a fresh peer's edit reaches the first one.
      const fresh = raw(`${s.wsUrl}/victim`)
      await waitFor(() => fresh.synced)
      fresh.doc.getMap('m').set('after', 'ok')
      await waitFor(() => peer.doc.getMap('m').get('after') === 'ok', 3000, 'an edit after the attack')
      await waitFor(async () => (await connections(s)) === 2, 3000, 'the broken socket is gone')
    })
  }
})

describe('WebSocket endpoint: closing', () => {
  it('answers a client close with the same code and reason and closes TCP; the connection is gone', async () => {
    const s = await start()
    const c = await tcp(s.url)
    await c.head()
    await waitFor(async () => (await connections(s)) === 1)
    c.send(clientFrame(CLOSE, closePayload(4000, 'bye')))
    expect(await c.closeFrame()).toEqual({ code: 4000, reason: 'bye' })
    await waitFor(() => c.ended, 3000, 'the server ends TCP first')
    c.socket.end()
    await c.closed
    await waitFor(async () => (await connections(s)) === 0, 3000, 'connection released')
  })

  it('a close frame without a code is answered without one', async () => {
    const s = await start()
    const c = await tcp(s.url)
    await c.head()
    c.send(clientFrame(CLOSE))
    expect((await c.closeFrame()).code).toBeNull()
  })

  it('a peer that vanishes (TCP FIN, no close frame) is released', async () => {
    const s = await start()
    const c = await tcp(s.url)
    await c.head()
    await waitFor(async () => (await connections(s)) === 1)
    c.socket.end()
    await c.closed
    await waitFor(async () => (await connections(s)) === 0, 3000, 'connection released')
  })

  it('a server close the peer never answers ends with the TCP socket destroyed', async () => {
    const s = await start()
    const c = await tcp(s.url, '/sync/bad!name')
    await c.head()
    expect((await c.closeFrame()).code).toBe(CloseCode.invalidDocName)
    // The client neither answers nor closes; the server must not keep the socket (ws's close timeout).
    await c.closed
  })
})
