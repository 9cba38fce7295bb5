/**
 * The physical ceiling for the benchmark: a bare `ws` WebSocketServer that forwards every message
 * to the other sockets on the same URL path. No Yjs, no storage, no authentication.
 *
 * The only protocol it knows: a client's sync step 1 (`[0, 0, …]`) is answered with an empty sync
 * step 2 (so a device counts as synced on connect) and sync step 1/2 frames are not forwarded
 * (otherwise every connect would fan a handshake out to the whole room). Everything else — the
 * updates the benchmark measures — is relayed byte for byte.
 *
 * `tsx tools/bench/raw-relay.ts [--port P] [--host H]`; prints `{"msg":"listening","url":…}` on stdout.
 */
import http from 'node:http'
import { parseArgs } from 'node:util'
import { WebSocketServer, type WebSocket } from 'ws'

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } })

/** `[sync][step2][len 2][0 clients, 0 deletes]`: an empty Yjs update as sync step 2. */
const EMPTY_STEP2 = Uint8Array.of(0, 1, 2, 0, 0)

const rooms = new Map<string, Set<WebSocket>>()
const server = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('relay') })
const wss = new WebSocketServer({ server, perMessageDeflate: false })

wss.on('connection', (ws, req) => {
  const path = (req.url ?? '/').split('?')[0]!
  let room = rooms.get(path)
  if (!room) { room = new Set(); rooms.set(path, room) }
  room.add(ws)
  ws.on('message', (data: Buffer, isBinary) => {
    if (data[0] === 0 && data.length > 1 && data[1]! <= 1) {
      if (data[1] === 0) ws.send(EMPTY_STEP2)
      return
    }
    for (const peer of room) if (peer !== ws && peer.readyState === 1) peer.send(data, { binary: isBinary })
  })
  ws.on('error', () => {})
  ws.on('close', () => {
    room.delete(ws)
    if (room.size === 0 && rooms.get(path) === room) rooms.delete(path)
  })
})

server.listen(Number(values.port), values.host, () => {
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  console.log(JSON.stringify({ msg: 'listening', url: `http://${values.host}:${port}` }))
})

const stop = () => { for (const c of wss.clients) c.terminate(); server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref() }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
