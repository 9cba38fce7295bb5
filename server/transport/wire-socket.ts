import type { Socket } from 'node:net'
import { FrameCloseCode, FrameReader, Opcode } from './ws-reader.js'
import { PING_FRAME, encodeCloseFrame, encodeControlFrame } from './ws-frames.js'

/**
 * One accepted WebSocket on the sync endpoint: the frame reader, the close handshake, pings, and raw
 * writes of frames the caller framed (ws-frames.ts).
 *
 * Why not `ws`'s WebSocket, which the server used before: an idle socket is what this server holds
 * most of (a user's phone, tablet and laptop stay connected all day), and `ws` gives each one a
 * WebSocket (an EventEmitter whose listener table is a dictionary), a Receiver (a Writable stream with
 * its own state, a bound callback and buffer lists) and a Sender: ~1.6 KB of JS heap per socket
 * before the application holds anything (heap snapshots, 5000 idle devices). This object is ~0.1 KB;
 * its listeners on the TCP socket are shared functions. The protocol surface it needs is small, since
 * the server never negotiates extensions: RFC 6455 framing (ws-reader.ts, ws-frames.ts), the opening
 * handshake (ws-handshake.ts) and the closing handshake here. `ws` stays the client in the SDK, the
 * tests and the load tool, and every test talks to this endpoint through `ws`, Yjs's provider or
 * Chromium.
 */

/** What the server does with a socket's traffic; one object shared by every socket. */
export interface WireHooks {
  /** Largest message accepted; a bigger one is refused with 1009 before it is read. */
  readonly maxPayload: number
  message (ws: WireSocket, data: Buffer): void
  /** Called once, when the TCP connection has closed (cleanly or not). */
  closed (ws: WireSocket): void
  /** The peer broke the protocol or the socket failed: for logs only, the socket closes on its own. */
  failed (ws: WireSocket, reason: string): void
}

const OPEN = 1
const CLOSING = 2
const CLOSED = 3
/** A closing handshake the peer has not finished within this long ends with the TCP socket destroyed. */
const CLOSE_TIMEOUT_MS = 2000

const WIRE = Symbol('wireSocket')
type WiredSocket = Socket & { [WIRE]: WireSocket }

// Shared listeners (`this` is the TCP socket): a closure per socket would stay for the socket's life.
function onData (this: WiredSocket, chunk: Buffer) { this[WIRE].read(chunk) }
function onEnd (this: WiredSocket) { this[WIRE].peerEnded() }
function onClose (this: WiredSocket) { this[WIRE].socketClosed() }
function onError (this: WiredSocket, err: Error) { this[WIRE].socketFailed(err) }
const destroySocket = (socket: Socket) => { socket.destroy() }

export class WireSocket extends FrameReader {
  private state = OPEN
  /** Set by the liveness round that pinged this socket; a pong clears it (liveness.ts). */
  awaitingPong = false
  /** Whatever the server attaches to this socket (upgrade.ts: early frames, then the Connection). */
  attached: unknown = null

  /** Takes over a socket whose 101 response has been written; `head` is what followed the request. */
  constructor (readonly socket: Socket, private readonly hooks: WireHooks, head: Buffer) {
    super()
    ;(socket as WiredSocket)[WIRE] = this
    socket.setTimeout(0)
    socket.setNoDelay(true)
    if (head.length > 0) socket.unshift(head)
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onClose)
    socket.on('error', onError)
  }

  get isOpen (): boolean { return this.state === OPEN }

  /** Bytes written but not yet handed to the kernel. */
  get bufferedAmount (): number { return this.socket.writableLength }

  /** Write frames framed by the caller (ws-frames.ts). Nothing goes out after a close frame. */
  write (frames: Uint8Array): void {
    if (this.state === OPEN) this.socket.write(frames)
  }

  ping (): void {
    if (this.state === OPEN) this.socket.write(PING_FRAME)
  }

  /** Send a close frame; the peer answers with its own, then the TCP connection closes (or is destroyed after 2 s). */
  close (code: number, reason = ''): void {
    if (this.state !== OPEN) return
    this.state = CLOSING
    this.socket.write(encodeCloseFrame(code, reason))
    setTimeout(destroySocket, CLOSE_TIMEOUT_MS, this.socket).unref()
  }

  /** Drop the connection without a closing handshake. */
  terminate (): void { this.socket.destroy() }

  protected get maxPayload (): number { return this.hooks.maxPayload }

  protected onMessage (data: Buffer): void {
    if (this.state !== CLOSED) this.hooks.message(this, data)
  }

  protected onPing (payload: Buffer): void {
    if (this.state === OPEN) this.socket.write(encodeControlFrame(Opcode.pong, payload))
  }

  protected onPong (): void { this.awaitingPong = false }

  /** The peer's close: answer it unless ours went first, then end our side (RFC 6455 §7.1.1: the server closes TCP first). */
  protected onCloseFrame (code: number): void {
    if (this.state === OPEN) this.socket.write(encodeCloseFrame(code === FrameCloseCode.noStatus ? null : code))
    this.endOurSide()
  }

  protected onFrameError (code: number, reason: string): void {
    this.hooks.failed(this, reason)
    if (this.state === OPEN) this.socket.write(encodeCloseFrame(code, reason))
    this.endOurSide()
  }

  /** TCP FIN without a close frame: the peer is gone; finish our side too. */
  peerEnded (): void {
    if (this.state === OPEN) this.endOurSide()
  }

  socketClosed (): void {
    if (this.state === CLOSED) return
    this.state = CLOSED
    this.hooks.closed(this)
  }

  socketFailed (err: Error): void {
    this.hooks.failed(this, err.message)
    this.socket.destroy()
  }

  private endOurSide (): void {
    if (this.state === CLOSED) return
    const wasOpen = this.state === OPEN
    this.state = CLOSING
    this.socket.end()
    // The HTTP server's sockets allow half-open connections: a peer that never closes its side would stay.
    if (wasOpen) setTimeout(destroySocket, CLOSE_TIMEOUT_MS, this.socket).unref()
  }
}
