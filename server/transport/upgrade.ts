import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { CloseCode, EXTENSIONS_PARAM, SYNC_PATH_PREFIX, SYNC_SUBPROTOCOL, isValidDocName } from '../../shared/protocol.js'
import { AuthRejection, type AuthenticateHook, type Principal } from './auth-hook.js'
import { Connection } from '../sync/connection.js'
import { startLiveness } from './liveness.js'
import { upgradeClientIp } from './client-ip.js'
import { behindProxy } from '../config.js'
import type { Rooms } from '../sync/rooms.js'
import type { SyncContext } from '../sync/context.js'
import type { SessionSockets } from '../sync/session-sockets.js'
import { VERSION_HEADER, acceptResponse, checkHandshake, pickSubprotocol } from './ws-handshake.js'
import { WireSocket, type WireHooks } from './wire-socket.js'

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 426: 'Upgrade Required', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }

/** Shared by every socket (a closure each would stay on the socket for its whole life). */
function destroyOnError (this: Duplex) { this.destroy() }

/** Answer an upgrade request with a plain HTTP response and no socket. */
const refuse = (socket: Duplex, status: number, error: string, message: string, extraHeader = '') => {
  const body = JSON.stringify({ error, message })
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
    (extraHeader ? `${extraHeader}\r\n` : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )
}

/**
 * Handles HTTP `upgrade` events: check the WebSocket handshake, route `/sync/<doc>`, authenticate
 * before accepting, then attach the socket to its room. Nothing is accepted unchecked.
 */
export const createUpgradeHandler = (ctx: SyncContext, rooms: Rooms, sessions: SessionSockets, authenticate: AuthenticateHook) => {
  /** Every accepted socket until its TCP connection closes: for liveness rounds and shutdown. */
  const open = new Set<WireSocket>()
  let accepting = true
  const liveness = startLiveness(open, ctx.config.pingIntervalMs, () => {
    ctx.metrics.deadConnections.inc()
    ctx.logger.info('socket did not answer a ping; dropped as dead')
  })

  // One hooks object for every socket; a socket's own state is `attached`: the frames that arrived
  // while its document loaded, then its Connection.
  const hooks: WireHooks = {
    // Hard cap at the frame layer (1009, unread); messages between the two limits are read and
    // refused with our own 4413 (Connection) so that clients get a clear code.
    maxPayload: ctx.config.maxMessageBytes * 2,
    message (ws, data) {
      const target = ws.attached
      if (target instanceof Connection) target.handle(data)
      else if (Array.isArray(target)) target.push(data)
    },
    closed (ws) {
      open.delete(ws)
      const c = ws.attached
      if (!(c instanceof Connection)) return
      ctx.metrics.connections.dec()
      sessions.remove(c)
      c.onSocketClosed()
    },
    failed (ws, reason) {
      ctx.logger.debug({ doc: ws.attached instanceof Connection ? ws.attached.room.name : undefined, err: reason }, 'socket error')
    }
  }

  /** Complete the handshake (already checked) and take the socket over. */
  const accept = (req: IncomingMessage, socket: Duplex, head: Buffer): WireSocket | null => {
    if (socket.destroyed || !socket.writable) { socket.destroy(); return null }
    socket.write(acceptResponse(req.headers['sec-websocket-key']!, pickSubprotocol(req, SYNC_SUBPROTOCOL)))
    socket.removeListener('error', destroyOnError) // the WireSocket's own listener destroys it from now on
    const ws = new WireSocket(socket as Socket, hooks, head)
    open.add(ws)
    return ws
  }

  const attach = async (ws: WireSocket, docName: string, principal: Principal, extensions: boolean) => {
    // Frames can arrive while the document loads: hold them and replay in order once it is ready.
    const early: Buffer[] = []
    ws.attached = early
    let room
    try {
      room = await rooms.acquire(docName)
    } catch (err) {
      ctx.logger.error({ doc: docName, err: (err as Error).message }, 'document load failed')
      ws.close(CloseCode.internalError, 'document could not be loaded')
      return
    }
    if (!ws.isOpen) { rooms.release(docName); return }
    const c = new Connection(ws, room, principal, ctx, extensions)
    ws.attached = c
    room.attach(c)
    sessions.add(c)
    rooms.release(docName)
    ctx.metrics.connections.inc()
    c.greet()
    for (const data of early) c.handle(data)
  }

  const handleUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError)
    if (!accepting) return refuse(socket, 503, 'shutting_down', 'server is shutting down')
    const handshake = checkHandshake(req)
    if (!handshake.ok) return refuse(socket, handshake.status, 'bad_handshake', handshake.message, handshake.status === 426 ? VERSION_HEADER : '')
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(SYNC_PATH_PREFIX)) return refuse(socket, 404, 'not_found', 'WebSocket endpoint is /sync/<docName>')
    let docName: string
    try { docName = decodeURIComponent(url.pathname.slice(SYNC_PATH_PREFIX.length)) } catch { docName = '' }
    if (!isValidDocName(docName)) {
      // Accepted only to be closed with a code a WebSocket client can read.
      accept(req, socket, head)?.close(CloseCode.invalidDocName, 'invalid document name')
      ctx.logger.info({ path: url.pathname.slice(0, 200) }, 'invalid document name')
      return
    }
    let principal: Principal
    try {
      principal = await authenticate(req, docName)
    } catch (err) {
      if (err instanceof AuthRejection) {
        ctx.logger.info({ doc: docName, status: err.status, error: err.code, ip: upgradeClientIp(req, behindProxy(ctx.config)) }, 'upgrade refused')
        return refuse(socket, err.status, err.code, err.message)
      }
      ctx.logger.error({ doc: docName, err: (err as Error).message }, 'authenticate hook failed')
      return refuse(socket, 500, 'internal', 'authentication failed')
    }
    const extensions = url.searchParams.get(EXTENSIONS_PARAM) === '1'
    const ws = accept(req, socket, head) // null if the client went away during authentication
    if (ws) void attach(ws, docName, principal, extensions)
  }

  return {
    handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => { void handleUpgrade(req, socket, head) },
    stopAccepting: () => { accepting = false; liveness.stop() },
    /** Close every socket with 1001 (server going away). */
    closeAll: () => {
      for (const ws of open) ws.close(CloseCode.goingAway, 'server shutting down')
    },
    /** Drop every socket still open, without a closing handshake. */
    terminateAll: () => {
      for (const ws of open) ws.terminate()
    }
  }
}
