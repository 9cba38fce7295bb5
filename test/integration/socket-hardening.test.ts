import { afterEach, describe, expect, it } from 'vitest'
import { CloseCode } from '../../shared/protocol.js'
import { serverFixtures, waitFor, type startServer } from '../helpers/server.js'
import { TcpWs, clientFrame, peakUnsent, upgradeSockets } from '../helpers/tcp-ws.js'
import { closeCode, secondDevice, signedInDevice, startIdentityServer } from '../helpers/identity.js'

type Server = Awaited<ReturnType<typeof startServer>>
const { start, onCleanup } = serverFixtures()
const PING = 0x9
const PONG = 0xa

const tcp = async (s: Server, path: string) => {
  const c = await TcpWs.open(s.url, path)
  onCleanup(() => c.socket.destroy())
  await c.head()
  expect(c.status).toBe(101)
  return c
}

const metric = async (s: Server, name: string) => {
  const text = await (await fetch(`${s.url}/metrics`)).text()
  return Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN)
}

const closedPromise = (socket: { once (e: 'close', f: () => void): unknown }) => {
  const state = { closed: false }
  socket.once('close', () => { state.closed = true })
  return state
}

const deferred = () => {
  let resolve!: () => void
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

describe('a peer that does not read its socket', () => {
  it('is closed once the pongs it asks for pass the send-buffer limit; the server never holds more than limit + one frame', async () => {
    const limit = 64 * 1024
    const s = await start({ maxBufferedBytes: limit, pingIntervalMs: 0 })
    const serverSide = upgradeSockets(s.http.server)
    const c = await tcp(s, '/sync/flood')
    const socket = serverSide.get('/sync/flood')!
    const peak = peakUnsent(socket)
    const server = closedPromise(socket)
    c.socket.pause() // never reads again: every pong the server writes stays in its buffers
    const ping = clientFrame(PING, Buffer.alloc(125, 7))
    // Ping until the server lets go (or visibly buffers past the limit); the client's own buffer stays small.
    while (!server.closed && peak.max <= limit + 127) {
      if (c.socket.writableLength < 256 * 1024) for (let i = 0; i < 64; i++) c.send(ping)
      await new Promise(r => setImmediate(r))
    }
    expect(peak.max).toBeLessThanOrEqual(limit + 127) // a pong frame: 2 header bytes + 125
    await waitFor(() => server.closed, 5000, 'the server closes the socket')
    expect((await s.metrics.rejected.get()).values.find(v => v.labels.code === CloseCode.slowConsumer)?.value).toBe(1)
  })

  it('is dropped as dead although it sends pongs nobody asked for', async () => {
    const s = await start({ pingIntervalMs: 200 })
    const serverSide = upgradeSockets(s.http.server)
    const c = await tcp(s, '/sync/ponger')
    await waitFor(async () => await metric(s, 'sync_connections') === 1)
    const server = closedPromise(serverSide.get('/sync/ponger')!)
    c.socket.pause() // never sees the server's pings
    // A pong of its own every 10 ms: liveness must not count these as answers.
    const pong = clientFrame(PONG, Buffer.from('still here'))
    const timer = setInterval(() => c.send(pong), 10)
    onCleanup(() => clearInterval(timer))
    await waitFor(() => server.closed, 5000, 'the server drops the silent socket')
    expect(await metric(s, 'sync_dead_connections_total')).toBe(1)
  })
})

describe('a device session revoked while its socket is being accepted', () => {
  let app: Awaited<ReturnType<typeof startIdentityServer>> | undefined
  afterEach(async () => { await app?.close(); app = undefined })

  it('during the document load: the socket closes 4403 at once and never joins the document', async () => {
    app = await startIdentityServer()
    const phone = await signedInDevice(app.url)
    const laptop = await secondDevice(phone)
    // Hold the document load open: the real load runs only once the test lets it.
    const loading = deferred()
    const gate = deferred()
    const rooms = app.rooms
    const acquire = rooms.acquire.bind(rooms)
    rooms.acquire = async (name: string) => { loading.resolve(); await gate.promise; return acquire(name) }
    onCleanup(() => gate.resolve())

    const ws = await phone.socket(phone.tokens.sessionDoc)
    onCleanup(() => ws.terminate())
    let code: number | null = null
    void closeCode(ws).then(c => { code = c })
    await loading.promise
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(204)
    await waitFor(() => code !== null, 5000, 'the socket closed while its document loads')
    expect(code).toBe(CloseCode.sessionEnded)
    expect((await app.metrics.rejected.get()).values.find(v => v.labels.code === CloseCode.sessionEnded)?.value).toBe(1)

    gate.resolve()
    const room = await rooms.acquire(phone.tokens.sessionDoc)
    expect(room.connections.size).toBe(0)
    rooms.release(phone.tokens.sessionDoc)
    expect(app.sessions.count(phone.tokens.sessionId)).toBe(0)
  })

  it('during authentication: the socket is closed 4403 as soon as it is accepted', async () => {
    app = await startIdentityServer()
    const phone = await signedInDevice(app.url)
    const laptop = await secondDevice(phone)
    // Hold the socket's authentication after its token and session were checked.
    const identity = app.identity!.identity
    const touch = identity.touch.bind(identity)
    const touching = deferred()
    const gate = deferred()
    identity.touch = async (session, ip) => {
      if (session.id === phone.tokens.sessionId) { touching.resolve(); await gate.promise }
      return touch(session, ip)
    }
    onCleanup(() => gate.resolve())

    const opening = phone.socket(phone.tokens.sessionDoc)
    await touching.promise
    expect((await laptop.api('DELETE', `/sessions/${phone.tokens.sessionId}`)).status).toBe(204)
    gate.resolve()
    const ws = await opening
    onCleanup(() => ws.terminate())
    let code: number | null = null
    void closeCode(ws).then(c => { code = c })
    await waitFor(() => code !== null, 5000, 'the accepted socket of the ended session closed')
    expect(code).toBe(CloseCode.sessionEnded)
    expect(app.sessions.count(phone.tokens.sessionId)).toBe(0)
  })
})
