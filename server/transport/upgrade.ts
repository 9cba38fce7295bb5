import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import WebSocket, { WebSocketServer, type ServerOptions } from 'ws'
import { CloseCode, EXTENSIONS_PARAM, SYNC_PATH_PREFIX, SYNC_SUBPROTOCOL, UpgradeRefusal, isValidDocName, type CloseCodeValue } from '../../shared/protocol.js'
import { AuthRejection, type AuthenticateHook, type Principal } from './auth-hook.js'
import { Connection } from '../sync/connection.js'
import { startLiveness } from './liveness.js'
import { upgradeClientIp, type ProxyTrust } from './client-ip.js'
import { PendingSocket, SyncSocket } from './sync-socket.js'
import type { Rooms } from '../sync/rooms.js'
import type { SyncContext } from '../sync/context.js'
import type { SessionSockets } from '../sync/session-sockets.js'


/** A closing handshake the peer has not finished within this long ends with the TCP socket destroyed. */
const CLOSE_TIMEOUT_MS = 2000
/** A pong's frame header (its payload is at most 125 bytes, RFC 6455 §5.5). */
const CONTROL_HEADER_BYTES = 2

export interface UpgradeOptions {
  authenticate: AuthenticateHook
  /**
   * Whether a device session is still live, asked once a socket of it has been accepted: a session
   * that ended while the socket was being authenticated closes it (4403).
   */
  sessionLive?: (sessionId: string) => Promise<boolean>
  /** Which hops in front of the server are trusted proxies (client-ip.ts); null: none. */
  proxyTrust: ProxyTrust | null
  /** Browser origins other than the server's own whose pages may open sockets. */
  allowedOrigins: readonly string[]
  /** The server's external origin ('' if unset: the request's Host header is the server's own). */
  publicUrl: string
}

/** Shared by every socket (a closure each would stay on the socket for its whole life). */
function destroyOnError (this: Duplex) { this.destroy() }

/** Answer an upgrade request with a plain HTTP response and no socket. */
const refuse = (socket: Duplex, status: number, error: string, message: string, extraHeader = '') => {
  const body = JSON.stringify({ error, message })
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
    (extraHeader ? `${extraHeader}\r\n` : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )
}

/** A base64-encoded 16-byte nonce (RFC 6455 §4.1). */
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/

/**
 * The opening-handshake checks `ws` makes in `handleUpgrade`, made here first: a request that could
 * never become a WebSocket is refused with a JSON body before it costs a token check.
 */
const handshakeProblem = (req: IncomingMessage): { status: number, message: string, header?: string } | null => {
  if (req.method !== 'GET') return { status: 405, message: 'a WebSocket upgrade must be a GET request' }
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { status: 400, message: 'Upgrade header must be "websocket"' }
  const key = req.headers['sec-websocket-key']
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return { status: 400, message: 'missing or invalid Sec-WebSocket-Key header' }
  const version = req.headers['sec-websocket-version']
  // 426 tells the client which versions we speak (RFC 6455 §4.4); ws accepts 8 as well as 13.
  if (version !== '13' && version !== '8') return { status: 426, message: 'Sec-WebSocket-Version must be 13', header: 'Sec-WebSocket-Version: 13, 8' }
  return null
}

/**
 * Browsers send the page's origin with an upgrade; other clients send none. A socket may be opened
 * without an Origin, from the server's own origin, or from a listed one.
 */
const originAllowed = (req: IncomingMessage, allowed: readonly string[], ownOrigin: string | null): boolean => {
  const origin = req.headers.origin
  if (origin === undefined) return true
  if (allowed.includes(origin)) return true
  if (ownOrigin !== null) return origin === ownOrigin
  // No public URL: the server is wherever the Host header says, over http or https (a TLS proxy may terminate in front).
  const host = req.headers.host?.toLowerCase()
  return host !== undefined && (origin.toLowerCase() === `http://${host}` || origin.toLowerCase() === `https://${host}`)
}

/**
 * Handles HTTP `upgrade` events: check the request, route `/sync/<doc>`, check its origin,
 * authenticate, and only then let `ws` complete the handshake and attach the socket to its room.
 */
export const createUpgradeHandler = (ctx: SyncContext, rooms: Rooms, sessions: SessionSockets, opts: UpgradeOptions) => {
  const { logger, metrics, config } = ctx
  let ownOrigin: string | null = null
  if (opts.publicUrl) try { ownOrigin = new URL(opts.publicUrl).origin } catch { ownOrigin = opts.publicUrl }
  /** Every accepted socket until it closes: for liveness rounds and shutdown. */
  const open = new Set<SyncSocket>()
  let accepting = true
  const liveness = startLiveness(open, config.pingIntervalMs, () => {
    metrics.deadConnections.inc()
    logger.info('socket did not answer a ping; dropped as dead')
  })

  const options: ServerOptions<typeof SyncSocket> & { closeTimeout: number } = {
    noServer: true,
    WebSocket: SyncSocket,
    clientTracking: false, // `open` tracks them; ws's own Set would add a listener per socket
    perMessageDeflate: false,
    maxPayload: config.maxMessageBytes,
    // Pings are answered below, within the send-buffer limit.
    autoPong: false,
    closeTimeout: CLOSE_TIMEOUT_MS,
    // Only the sync subprotocol is ever echoed: an access token offered as a subprotocol is not.
    handleProtocols: protocols => protocols.has(SYNC_SUBPROTOCOL) ? SYNC_SUBPROTOCOL : false
  }
  const wss = new WebSocketServer<typeof SyncSocket>(options)
  // Anything ws refuses that the checks above let through (a malformed Sec-WebSocket-Protocol) gets a JSON body too.
  wss.on('wsClientError', (err: Error, socket: Duplex) => refuse(socket, 400, UpgradeRefusal.badHandshake, err.message))

  const docOf = (ws: SyncSocket) => ws.attached instanceof Connection ? ws.attached.room.name : undefined

  /** Close `ws` with `code`, through its Connection once it has one. */
  const closeSocket = (ws: SyncSocket, code: CloseCodeValue, reason: string) => {
    const target = ws.attached
    if (target) target.close(code, reason)
    else ws.close(code, reason)
  }

  // Listeners shared by every socket (`this` is the socket; ws's types call it a plain WebSocket).
  function onMessage (this: WebSocket, data: Buffer) {
    const target = (this as SyncSocket).attached
    if (target instanceof Connection) target.handle(data)
  }
  function onPing (this: WebSocket, payload: Buffer) {
    if (this.readyState !== WebSocket.OPEN) return
    // A pong is unsent data like any frame: a peer that pings without reading is stopped at the limit.
    if (this.bufferedAmount + CONTROL_HEADER_BYTES + payload.length > config.maxBufferedBytes) {
      closeSocket(this as SyncSocket, CloseCode.slowConsumer, 'send buffer limit exceeded')
      return
    }
    this.pong(payload)
  }
  function onPong (this: WebSocket, payload: Buffer) {
    if (liveness.answers(payload)) (this as SyncSocket).awaitingPong = false
  }
  function onError (this: WebSocket, err: Error & { code?: string }) {
    // ws closes the socket itself (1002, 1007, 1009); the error is for logs and metrics only.
    const target = (this as SyncSocket).attached
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || err.code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') {
      metrics.rejected.inc({ code: CloseCode.messageTooLarge })
      const principal = target?.principal
      logger.info({ doc: docOf(this as SyncSocket), user: principal?.userId, session: principal?.sessionId, closeCode: CloseCode.messageTooLarge, reason: err.message }, 'closing connection')
      return
    }
    logger.debug({ doc: docOf(this as SyncSocket), err: err.message }, 'socket error')
  }
  function onClose (this: WebSocket) {
    const ws = this as SyncSocket
    open.delete(ws)
    const target = ws.attached
    ws.attached = null
    if (target === null) return
    sessions.remove(target)
    if (target instanceof Connection) {
      metrics.connections.dec()
      target.onSocketClosed()
      ctx.activity?.closed(target)
    }
  }

  /** Let ws complete the handshake (already checked) and take the socket over. */
  const accept = (req: IncomingMessage, socket: Duplex, head: Buffer, then: (ws: SyncSocket) => void) => {
    socket.removeListener('error', destroyOnError) // ws's own listener destroys it from now on
    wss.handleUpgrade(req, socket, head, ws => {
      ws.on('message', onMessage)
      ws.on('ping', onPing)
      ws.on('pong', onPong)
      ws.on('error', onError)
      ws.on('close', onClose)
      open.add(ws)
      then(ws)
    })
  }

  const reportPendingClose = (pending: PendingSocket, code: number, reason: string) => {
    metrics.rejected.inc({ code })
    logger.info({ user: pending.principal.userId, session: pending.principal.sessionId, closeCode: code, reason }, 'closing connection')
  }

  const recheckSession = async (pending: PendingSocket, sessionId: string) => {
    let live: boolean
    try {
      live = await opts.sessionLive!(sessionId)
    } catch (err) {
      logger.error({ session: sessionId, err: (err as Error).message }, 'device session check failed')
      return
    }
    const target = pending.ws.attached
    if (!live && (target === pending || target instanceof Connection)) target.close(CloseCode.sessionEnded, 'device session ended')
  }

  const attach = async (ws: SyncSocket, tcp: Socket, docName: string, principal: Principal, extensions: boolean) => {
    // Frames wait in the TCP buffers until the document is ready, then are read in order.
    ws.pause()
    const pending = new PendingSocket(ws, principal, reportPendingClose)
    ws.attached = pending
    sessions.add(pending)
    // Registered first, then checked: a session that ends from here on closes the pending socket
    // through `sessions`, and one that ended before is seen by the check.
    if (opts.sessionLive && principal.sessionId) void recheckSession(pending, principal.sessionId)
    let room
    try {
      room = await rooms.acquire(docName)
    } catch (err) {
      logger.error({ doc: docName, err: (err as Error).message }, 'document load failed')
      pending.close(CloseCode.internalError, 'document could not be loaded')
      return
    }
    if (ws.attached !== pending || ws.readyState !== WebSocket.OPEN) { rooms.release(docName); return }
    const c = new Connection(ws, tcp, room, principal, ctx, extensions)
    ws.attached = c
    room.attach(c)
    sessions.replace(pending, c)
    rooms.release(docName)
    metrics.connections.inc()
    ctx.activity?.opened(c)
    c.greet()
    ws.resume()
  }

  const handleUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError)
    if (!accepting) return refuse(socket, 503, UpgradeRefusal.shuttingDown, 'server is shutting down')
    const problem = handshakeProblem(req)
    if (problem) return refuse(socket, problem.status, UpgradeRefusal.badHandshake, problem.message, problem.header)
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (!url.pathname.startsWith(SYNC_PATH_PREFIX)) return refuse(socket, 404, UpgradeRefusal.notFound, 'WebSocket endpoint is /sync/<docName>')
    if (!originAllowed(req, opts.allowedOrigins, ownOrigin)) {
      logger.info({ origin: String(req.headers.origin).slice(0, 200), ip: upgradeClientIp(req, opts.proxyTrust) }, 'upgrade refused: origin not allowed')
      return refuse(socket, 403, UpgradeRefusal.originNotAllowed, 'this origin may not open sockets on this server (--cors-origins)')
    }
    let docName: string
    try { docName = decodeURIComponent(url.pathname.slice(SYNC_PATH_PREFIX.length)) } catch { docName = '' }
    if (!isValidDocName(docName)) {
      // Accepted only to be closed with a code a WebSocket client can read.
      accept(req, socket, head, ws => ws.close(CloseCode.invalidDocName, 'invalid document name'))
      logger.info({ path: url.pathname.slice(0, 200) }, 'invalid document name')
      return
    }
    let principal: Principal
    try {
      principal = await opts.authenticate(req, docName)
    } catch (err) {
      if (err instanceof AuthRejection) {
        logger.info({ doc: docName, status: err.status, error: err.code, ip: upgradeClientIp(req, opts.proxyTrust) }, 'upgrade refused')
        return refuse(socket, err.status, err.code, err.message)
      }
      logger.error({ doc: docName, err: (err as Error).message }, 'authenticate hook failed')
      return refuse(socket, 500, UpgradeRefusal.internal, 'authentication failed')
    }
    if (!accepting) return refuse(socket, 503, UpgradeRefusal.shuttingDown, 'server is shutting down')
    const extensions = url.searchParams.get(EXTENSIONS_PARAM) === '1'
    // ws destroys the socket instead if the client went away during authentication.
    accept(req, socket, head, ws => { void attach(ws, socket as Socket, docName, principal, extensions) })
  }

  return {
    handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      handleUpgrade(req, socket, head).catch((err: Error) => {
        logger.error({ err: err.message }, 'upgrade failed')
        socket.destroy()
      })
    },
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
