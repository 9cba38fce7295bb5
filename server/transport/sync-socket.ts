import WebSocket from 'ws'
import { fitCloseReason } from '../../shared/protocol.js'
import type { Connection } from '../sync/connection.js'
import type { SessionMember } from '../sync/session-sockets.js'
import type { Principal } from './auth-hook.js'

/**
 * An accepted socket on the sync endpoint: `ws`'s WebSocket (given to the WebSocketServer as its
 * `WebSocket` class) plus the two fields this server keeps per socket, so that the listeners can be
 * functions shared by every socket.
 */
export class SyncSocket extends WebSocket {
  /** While its document loads, its registration as a socket of its device session; then its Connection. */
  attached: PendingSocket | Connection | null = null
  /** Set by the liveness round that pinged this socket; cleared by the pong that answers that ping. */
  awaitingPong = false
}

/**
 * A socket between acceptance and its Connection. It is a member of its device session from the
 * moment it is accepted, so that ending the session while the document loads closes it.
 */
export class PendingSocket implements SessionMember {
  constructor (
    readonly ws: SyncSocket,
    readonly principal: Principal,
    /** Logs and counts a close, as a Connection does its own (one function for every pending socket). */
    private readonly report: (pending: PendingSocket, code: number, reason: string) => void
  ) {}

  close (code: number, reason: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    this.report(this, code, reason)
    this.ws.close(code, fitCloseReason(reason))
    this.ws.resume() // reading is paused during the load; the peer's close frame must be read
  }
}
