import {
  CloseCode, MessageType, SyncType, ProtocolError, decodeMessage, encodeSyncStep2, encodeUpdate,
  encodeAwareness, encodePermissionDenied, encodeAuthExpiry, isEmptyUpdate, type CloseCodeValue
} from '../../shared/protocol.js'
import type { Principal } from '../transport/auth-hook.js'
import type { Room } from './room.js'
import type { SyncContext } from './context.js'
import { cancelSocket, deferSocket } from './turn-end.js'
import { encodeBinaryFrameHeader, encodeBinaryFrames } from '../transport/ws-frames.js'
import { NOT_SCHEDULED, type Expiring } from './expiry-clock.js'
import type { WireSocket } from '../transport/wire-socket.js'


/** Frames of one turn go out together (see turn-end.ts); big ones go at once. */
const FLUSH_AT_BYTES = 16 * 1024

/**
 * One WebSocket attached to one document: decodes each frame once, applies it, and hands encoded
 * frames to the room for fan-out. All failure paths end in `close(code)`, never in a throw.
 */
export class Connection implements Expiring {
  /**
   * Awareness client ids announced through this socket, removed when it closes. Created with the
   * first one: most sockets never carry presence, and an empty Set costs ~150 bytes per socket.
   */
  awarenessIds: Set<number> | null = null
  private closed = false
  private deniedOnce = false
  /** Frames queued this turn; null between turns, so an idle socket holds no array (32 bytes each). */
  private out: Uint8Array[] | null = null
  private outBytes = 0
  /** The expiry clock's bookkeeping (expiry-clock.ts). */
  expiryBucket = NOT_SCHEDULED

  constructor (
    readonly ws: WireSocket,
    readonly room: Room,
    public principal: Principal,
    private readonly ctx: SyncContext,
    /** The client reads extension messages (asked with `?ext=1`, or proved it by sending a reauth). */
    private extensions = false
  ) {
    this.armExpiry()
  }

  get isOpen () { return !this.closed }

  /** Send one encoded frame, enforcing the send-buffer limit instead of buffering without bound. */
  send (frame: Uint8Array): void {
    if (this.closed) return
    if (this.ws.bufferedAmount + this.outBytes > this.ctx.config.maxBufferedBytes) {
      this.close(CloseCode.slowConsumer, 'send buffer limit exceeded')
      return
    }
    const queued = this.out
    if (queued === null) this.out = [frame]
    else queued.push(frame)
    this.outBytes += frame.byteLength
    // Batching is for many small frames; big ones go to the socket now, so the limit above
    // measures what the peer has not read, not what this turn has not written yet.
    if (this.outBytes >= FLUSH_AT_BYTES) this.flushOut()
    else if (queued === null) deferSocket(this)
    const hot = this.ctx.metrics.hot
    hot.messagesOut++
    hot.bytesOut += frame.byteLength
  }

  runAtTurnEnd (): void { this.flushOut() }

  /** Write the frames queued this turn as one socket write (ws-frames.ts); a big one without a copy. */
  flushOut (): void {
    const frames = this.out
    const bytes = this.outBytes
    if (frames === null) return
    this.out = null
    this.outBytes = 0
    const ws = this.ws
    if (!ws.isOpen) return
    if (bytes < FLUSH_AT_BYTES) { ws.write(encodeBinaryFrames(frames)); return }
    // Big payloads are not copied: header and payload go out as chunks of one corked write.
    ws.socket.cork()
    for (const f of frames) { ws.write(encodeBinaryFrameHeader(f.byteLength)); ws.write(f) }
    ws.socket.uncork()
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
    const { metrics: { hot }, config } = this.ctx
    hot.bytesIn += data.byteLength
    if (data.byteLength > config.maxMessageBytes) {
      this.close(CloseCode.messageTooLarge, `message of ${data.byteLength} bytes exceeds ${config.maxMessageBytes}`)
      return
    }
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
    this.flushOut() // what was queued before the close goes out before the close frame
    cancelSocket(this)
    this.closed = true
    this.ctx.expiry.cancel(this)
    this.ctx.metrics.rejected.inc({ code })
    if (code !== CloseCode.goingAway) {
      this.ctx.logger.info({ doc: this.room.name, user: this.principal.userId, session: this.principal.sessionId, closeCode: code, reason }, 'closing connection')
    }
    // A peer that does not read never completes the close handshake: the socket is destroyed after 2 s.
    this.ws.close(code, reason)
    this.room.detach(this)
  }

  /** Socket closed by the peer or the network. */
  onSocketClosed (): void {
    this.ctx.expiry.cancel(this)
    this.out = null
    cancelSocket(this)
    this.closed = true
    this.room.detach(this)
  }
}

