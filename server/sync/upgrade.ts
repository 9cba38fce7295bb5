import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { CloseCode, EXTENSIONS_PARAM, SYNC_PATH_PREFIX, SYNC_SUBPROTOCOL, isValidDocName } from '../../shared/protocol.js'
import { AuthRejection, type AuthenticateHook, type Principal } from './auth-hook.js'
import { Connection } from './connection.js'
import { startLiveness } from './liveness.js'
import { upgradeClientIp } from './client-ip.js'
import type { Rooms } from './rooms.js'
import type { SyncContext } from './context.js'
import type { SessionSockets } from './session-sockets.js'

/** What a socket carries: the frames that arrived while its document loaded, then its Connection. */
const ATTACHED = Symbol('attached')
type AttachedSocket = WebSocket & { [ATTACHED]?: Connection | Buffer[] }

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }

/** Shared by every socket (a closure each would stay on the socket for its whole life). */
function destroyOnError (this: Duplex) { this.destroy() }

/** Answer an upgrade request with a plain HTTP response and no socket. */
const refuse = (socket: Duplex, status: number, error: string, message: string) => {
  const body = JSON.stringify({ error, message })
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )
}

/**
 * Handles HTTP `upgrade` events: route `/sync/<doc>`, authenticate before accepting, then attach the
 * socket to its room. The `ws` server runs in noServer mode so that nothing is accepted unchecked.
 */
export const createUpgradeHandler = (ctx: SyncContext, rooms: Rooms, sessions: SessionSockets, authenticate: AuthenticateHook) => {
  const wss = new WebSocketServer({
    noServer: true,
    // Hard cap at the frame layer (ws closes with 1009); messages between the two limits are read
    // and refused with our own 4413 so that clients get a clear code.
    maxPayload: ctx.config.maxMessageBytes * 2,
    perMessageDeflate: false,
    // Tokens may arrive as a subprotocol entry; never echo them back, only a fixed protocol name.
    handleProtocols: (protocols) => (protocols.has(SYNC_SUBPROTOCOL) ? SYNC_SUBPROTOCOL : false)
  })
  let accepting = true
  const liveness = startLiveness(wss, ctx.config.pingIntervalMs, () => {
    ctx.metrics.deadConnections.inc()
    ctx.logger.info('socket did not answer a ping; dropped as dead')
  })

  // The socket's listeners are shared functions (`this` is the socket) and its state rides on the
  // socket, not in closures per socket: three closures and their context were ~0.3 KB per idle device.
  function onMessage (this: AttachedSocket, data: Buffer) {
    const target = this[ATTACHED]
    if (target instanceof Connection) target.handle(data)
    else target?.push(data)
  }
  function onError (this: AttachedSocket, err: Error) {
    ctx.logger.debug({ doc: this[ATTACHED] instanceof Connection ? this[ATTACHED].room.name : undefined, err: err.message }, 'socket error')
  }
  function onClose (this: AttachedSocket) {
    const c = this[ATTACHED]
    if (!(c instanceof Connection)) return
    ctx.metrics.connections.dec()
    sessions.remove(c)
    c.onSocketClosed()
  }

  const attach = async (ws: AttachedSocket, docName: string, principal: Principal, extensions: boolean) => {
    // Frames can arrive while the document loads: hold them and replay in order once it is ready.
    const early: Buffer[] = []
    ws[ATTACHED] = early
    ws.on('message', onMessage)
    ws.on('error', onError)
    let room
    try {
      room = await rooms.acquire(docName)
    } catch (err) {
      ctx.logger.error({ doc: docName, err: (err as Error).message }, 'document load failed')
      ws.close(CloseCode.internalError, 'document could not be loaded')
      return
    }
    if (ws.readyState !== ws.OPEN) { rooms.release(docName); return }
    const c = new Connection(ws, room, principal, ctx, extensions)
    ws[ATTACHED] = c
    room.attach(c)
    sessions.add(c)
    rooms.release(docName)
    ctx.metrics.connections.inc()
    ws.on('close', onClose)
    c.greet()
    for (const data of early) c.handle(data)
  }

  const handleUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError)
    if (!accepting) return refuse(socket, 503, 'shutting_down', 'server is shutting down')
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(SYNC_PATH_PREFIX)) return refuse(socket, 404, 'not_found', 'WebSocket endpoint is /sync/<docName>')
    let docName: string
    try { docName = decodeURIComponent(url.pathname.slice(SYNC_PATH_PREFIX.length)) } catch { docName = '' }
    if (!isValidDocName(docName)) {
      // Accepted only to be closed with a code a WebSocket client can read.
      wss.handleUpgrade(req, socket, head, ws => ws.close(CloseCode.invalidDocName, 'invalid document name'))
      ctx.logger.info({ path: url.pathname.slice(0, 200) }, 'invalid document name')
      return
    }
    let principal: Principal
    try {
      principal = await authenticate(req, docName)
    } catch (err) {
      if (err instanceof AuthRejection) {
        ctx.logger.info({ doc: docName, status: err.status, error: err.code, ip: upgradeClientIp(req, ctx.config.publicUrl !== '') }, 'upgrade refused')
        return refuse(socket, err.status, err.code, err.message)
      }
      ctx.logger.error({ doc: docName, err: (err as Error).message }, 'authenticate hook failed')
      return refuse(socket, 500, 'internal', 'authentication failed')
    }
    if (socket.destroyed) return
    const extensions = url.searchParams.get(EXTENSIONS_PARAM) === '1'
    wss.handleUpgrade(req, socket, head, ws => {
      liveness.watch(ws)
      void attach(ws, docName, principal, extensions)
    })
  }

  return {
    handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => { void handleUpgrade(req, socket, head) },
    stopAccepting: () => { accepting = false; liveness.stop() },
    /** Close every socket with 1001 (server going away). */
    closeAll: () => {
      for (const ws of wss.clients) ws.close(CloseCode.goingAway, 'server shutting down')
    },
    wss
  }
}
