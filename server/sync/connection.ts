import type { Socket } from 'node:net'
import WebSocket from 'ws'
import {
  CloseCode, MessageType, SyncType, ProtocolError, decodeMessage, encodeSyncStep2, encodeUpdate,
  encodePermissionDenied, encodeAuthExpiry, fitCloseReason, isEmptyUpdate, type CloseCodeValue
} from '../../shared/protocol.js'
import type { Principal } from '../transport/auth-hook.js'
import type { Room } from './room.js'
import type { SyncContext } from './context.js'
import type { SessionMember } from './session-sockets.js'
import { cancelSocket, deferSocket } from './turn-end.js'
import { NOT_SCHEDULED, type Expiring } from './expiry-clock.js'

/**
 * Frames of one turn go out in one socket write (turn-end.ts): the TCP socket is corked at the first
 * frame of a turn and uncorked at its end. Past this many bytes in a turn it is uncorked at once, so
 * that the send-buffer limit measures what the peer has not read, not what this turn has not written.
 */
const FLUSH_AT_BYTES = 16 * 1024
const NOT_CORKED = -1

/**
 * One WebSocket attached to one document: decodes each frame once, applies it, and hands encoded
 * frames to the room for fan-out. All failure paths end in `close(code)`, never in a throw.
 */
export class Connection implements Expiring, SessionMember {
  /**
   * Awareness client ids announced through this socket, removed when it closes. Created with the
   * first one: most sockets never carry presence, and an empty Set costs ~150 bytes per socket.
   */
  awarenessIds: Set<number> | null = null
  private closed = false
  private deniedOnce = false
  /** Bytes sent since the TCP socket was corked this turn; NOT_CORKED between turns. */
  private turnBytes = NOT_CORKED
  /** The expiry clock's bookkeeping (expiry-clock.ts). */
  expiryBucket = NOT_SCHEDULED
  /** Updates accepted from this socket; read by analytics at its own pace (socket-activity.ts). */
  edits = 0

  constructor (
    readonly ws: WebSocket,
    /** The TCP socket under `ws`, kept from the upgrade: corked and uncorked around each turn's frames. */
    private readonly tcp: Socket,
    readonly room: Room,
    public principal: Principal,
    private readonly ctx: SyncContext,
    /** The client reads extension messages (asked with `?ext=1`, or proved it by sending a reauth). */
    private extensions = false
  ) {
    this.armExpiry()
  }

  get isOpen () { return !this.closed }

  /** The client reads the server's extension messages (shared/protocol.ts). */
  get readsExtensions () { return this.extensions }

  /**
   * Send one encoded frame, enforcing the send-buffer limit instead of buffering without bound. The
   * limit is checked when the socket is corked (its first frame of a turn, and again after every
   * FLUSH_AT_BYTES), not for every frame: unsent data passes it by less than FLUSH_AT_BYTES plus one
   * frame before the socket is closed.
   */
  send (frame: Uint8Array): void {
    if (this.closed) return
    const ws = this.ws
    if (ws.readyState !== WebSocket.OPEN) return
    if (this.turnBytes === NOT_CORKED) {
      if (ws.bufferedAmount > this.ctx.config.maxBufferedBytes) {
        this.close(CloseCode.slowConsumer, 'send buffer limit exceeded')
        return
      }
      this.tcp.cork()
      this.turnBytes = 0
      deferSocket(this)
    }
    ws.send(frame)
    this.turnBytes += frame.byteLength
    if (this.turnBytes >= FLUSH_AT_BYTES) this.uncork()
    const hot = this.ctx.metrics.hot
    hot.messagesOut++
    hot.bytesOut += frame.byteLength
  }

  runAtTurnEnd (): void { this.uncork() }

  /** Hand the frames written since the cork to the kernel, in one write. */
  private uncork (): void {
    if (this.turnBytes === NOT_CORKED) return
    this.turnBytes = NOT_CORKED
    this.tcp.uncork()
  }

  /** Start the y-websocket handshake: our state vector, then everyone's presence. */
  greet (): void {
    this.send(this.room.syncStep1())
    const presence = this.room.encodeAllAwareness()
    if (presence) this.send(presence)
    if (this.extensions && this.principal.expiresAt) this.send(encodeAuthExpiry(this.principal.expiresAt))
  }

  handle (data: Buffer): void {
    if (this.closed) return
    const hot = this.ctx.metrics.hot
    hot.bytesIn += data.byteLength
    try {
      const msg = decodeMessage(data)
      if (msg.type < 4) hot.messagesIn[msg.type]!++
      else hot.messagesInOther++
      switch (msg.type) {
        case MessageType.sync:
          if (msg.syncType === SyncType.step1) this.send(encodeSyncStep2(this.room.diff(msg.payload)))
          else this.receiveUpdate(msg.payload, msg.syncType === SyncType.update ? data : null)
          break
        case MessageType.awareness:
          this.room.receiveAwareness(this, msg.payload, data)
          break
        case MessageType.queryAwareness: {
          const presence = this.room.encodeAllAwareness()
          if (presence) this.send(presence)
          break
        }
        case MessageType.reauth:
          this.extensions = true
          void this.reauthenticate(msg.token)
          break
        case MessageType.auth:
        case MessageType.authExpiry:
        case MessageType.securityAlert:
          break // server-to-client messages; a client echoing them is harmless
      }
    } catch (err) {
      const reason = err instanceof ProtocolError ? err.message : `invalid update: ${(err as Error).message}`
      this.close(CloseCode.badMessage, reason)
    }
  }

  private receiveUpdate (update: Uint8Array, frame: Uint8Array | null): void {
    if (isEmptyUpdate(update)) return
    if (this.principal.access !== 'write') {
      // Viewers' updates are dropped: never applied, persisted or broadcast. Tell the client once.
      this.ctx.metrics.hot.denied++
      if (!this.deniedOnce) {
        this.deniedOnce = true
        this.send(encodePermissionDenied('read-only access'))
        this.ctx.logger.warn({ doc: this.room.name, user: this.principal.userId }, 'update from read-only connection dropped')
      }
      return
    }
    this.edits++
    this.room.applyUpdate(update, this, frame ?? encodeUpdate(update))
  }

  private async reauthenticate (token: string) {
    const hook = this.ctx.reauthenticate
    if (!hook) return
    try {
      const next = await hook(token, this.room.name, this.principal)
      if (this.closed) return
      this.principal = next
      this.armExpiry()
      if (next.expiresAt) this.send(encodeAuthExpiry(next.expiresAt))
    } catch (err) {
      // A refused renewal leaves the current token in force until it expires (then 4401).
      this.ctx.logger.info({ doc: this.room.name, session: this.principal.sessionId, reason: (err as Error).message }, 'in-band reauth refused')
    }
  }

  /** Closes the socket once the credential that opened it expires (ctx.expiry: one timer for all). */
  private armExpiry () {
    const at = this.principal.expiresAt
    if (at) this.ctx.expiry.schedule(this, at)
    else this.ctx.expiry.cancel(this)
  }

  onExpiry (): void {
    const at = this.principal.expiresAt
    if (this.closed || !at) return
    if (Date.now() >= at) this.close(CloseCode.tokenExpired, 'access token expired')
    else this.armExpiry()
  }

  /** Close with a documented code; the room removes us (and our presence) on the socket's close event. */
  close (code: CloseCodeValue, reason: string): void {
    if (this.closed) return
    this.uncork()
    cancelSocket(this)
    this.closed = true
    this.ctx.expiry.cancel(this)
    this.ctx.metrics.rejected.inc({ code })
    if (code !== CloseCode.goingAway) {
      this.ctx.logger.info({ doc: this.room.name, user: this.principal.userId, session: this.principal.sessionId, closeCode: code, reason }, 'closing connection')
    }
    // A peer that does not read never completes the close handshake: the socket is destroyed after
    // ws's close timeout (transport/upgrade.ts).
    this.ws.close(code, fitCloseReason(reason))
    this.room.detach(this)
  }

  /** Socket closed by the peer or the network. */
  onSocketClosed (): void {
    this.ctx.expiry.cancel(this)
    this.turnBytes = NOT_CORKED
    cancelSocket(this)
    this.closed = true
    this.room.detach(this)
  }
}

