import { isUtf8 } from 'node:buffer'

/**
 * Client-to-server WebSocket frames (RFC 6455 §5), parsed straight from a socket's chunks.
 *
 * Part of the server's own WebSocket endpoint (see wire-socket.ts for why it is not `ws`'s). What it
 * accepts is what `ws` accepts from a client with permessage-deflate off: masked frames, no reserved
 * bits, text, binary, continuation, close, ping and pong; control frames of at most 125 bytes and
 * never fragmented; text and close reasons in valid UTF-8. Anything else ends reading with the close
 * code `ws` would send (1002, 1007, 1009).
 *
 * The parser keeps no buffer in the common case: a frame that arrives whole in one chunk is unmasked
 * in place and handed on as a view of that chunk. Only a frame split across chunks is collected
 * (once, when all of it is there), and only a fragmented message is joined.
 */

export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const

/** Frame-layer close codes (RFC 6455 §7.4.1). */
export const FrameCloseCode = {
  normal: 1000,
  protocolError: 1002,
  /** No status code in the close frame; never sent on the wire. */
  noStatus: 1005,
  invalidPayload: 1007,
  tooBig: 1009
} as const

/** Codes a peer may put in a close frame (what `ws` accepts). */
export const isValidCloseCode = (code: number): boolean =>
  (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)

/** `frame()`'s answer once reading has ended (a close frame, or a frame that broke the protocol). */
const STOP = 0
/** 2^53 / 2^32: a 64-bit length at or above this does not fit a JS number (and is far past any limit). */
const MAX_LENGTH_HIGH_WORD = 0x200000

/** The start of a frame and the chunks after it, and the bytes it needs before parsing is worth trying again. */
interface PartialFrame { chunks: Buffer[], bytes: number, need: number }
interface FragmentedMessage { parts: Buffer[], bytes: number, binary: boolean }

/** Per-socket state is two null fields and a flag; what only a split frame or a fragmented message needs is allocated for it. */
export abstract class FrameReader {
  /** A frame split across chunks, until all of it is there; null nearly always. */
  private partial: PartialFrame | null = null
  /** A message sent in fragments, until its last one; null nearly always. */
  private fragmented: FragmentedMessage | null = null
  /** Set by a close frame or a protocol error: nothing after it is read. */
  protected readingDone = false

  /** Largest message accepted, whole or in fragments; a bigger one ends reading with 1009, unread. */
  protected abstract get maxPayload (): number
  protected abstract onMessage (data: Buffer, isBinary: boolean): void
  protected abstract onPing (payload: Buffer): void
  protected abstract onPong (): void
  /** The peer's close frame (`FrameCloseCode.noStatus` when it carried no code). */
  protected abstract onCloseFrame (code: number): void
  /** The peer broke the protocol; answer with a close frame of this code. */
  protected abstract onFrameError (code: number, reason: string): void

  /** Feed one chunk read from the socket. */
  read (chunk: Buffer): void {
    if (this.readingDone) return
    let buf = chunk
    const partial = this.partial
    if (partial !== null) {
      partial.chunks.push(chunk)
      partial.bytes += chunk.length
      if (partial.bytes < partial.need) return
      buf = Buffer.concat(partial.chunks, partial.bytes)
      this.partial = null
    }
    let at = 0
    while (at < buf.length) {
      const used = this.frame(buf, at)
      if (used === STOP || this.readingDone) return
      if (used < 0) {
        const rest = at === 0 ? buf : buf.subarray(at)
        this.partial = { chunks: [rest], bytes: rest.length, need: -used }
        return
      }
      at += used
    }
  }

  /** Parse the frame at `at`: its length; minus the bytes it needs, when it is not all there; or `STOP`. */
  private frame (buf: Buffer, at: number): number {
    const avail = buf.length - at
    if (avail < 2) return -2
    const b0 = buf[at]!
    const b1 = buf[at + 1]!
    const fin = (b0 & 0x80) !== 0
    const opcode = b0 & 0x0f
    // Checks in `ws`'s order, so that a frame with several faults gets the close code `ws` would send.
    if ((b0 & 0x70) !== 0) return this.fail(FrameCloseCode.protocolError, 'reserved bits set')
    let length = b1 & 0x7f
    if (opcode >= 0x8) {
      if (opcode > Opcode.pong) return this.fail(FrameCloseCode.protocolError, `unknown opcode ${opcode}`)
      if (!fin) return this.fail(FrameCloseCode.protocolError, 'fragmented control frame')
      if (length > 125) return this.fail(FrameCloseCode.protocolError, 'control frame over 125 bytes')
    } else {
      if (opcode > Opcode.binary) return this.fail(FrameCloseCode.protocolError, `unknown opcode ${opcode}`)
      if (opcode === Opcode.continuation && this.fragmented === null) return this.fail(FrameCloseCode.protocolError, 'continuation frame outside a message')
      if (opcode !== Opcode.continuation && this.fragmented !== null) return this.fail(FrameCloseCode.protocolError, 'new message before the previous one ended')
    }
    if ((b1 & 0x80) === 0) return this.fail(FrameCloseCode.protocolError, 'client frames must be masked')
    const header = length === 127 ? 10 : length === 126 ? 4 : 2
    if (avail < header + 4) return -(header + 4)
    if (length === 126) length = buf.readUInt16BE(at + 2)
    else if (length === 127) {
      const high = buf.readUInt32BE(at + 2)
      if (high >= MAX_LENGTH_HIGH_WORD) return this.fail(FrameCloseCode.tooBig, 'frame length out of range')
      length = high * 2 ** 32 + buf.readUInt32BE(at + 6)
    }
    if (opcode < 0x8 && (this.fragmented?.bytes ?? 0) + length > this.maxPayload) return this.fail(FrameCloseCode.tooBig, 'message too big')
    const total = header + 4 + length
    if (avail < total) return -total
    const payload = buf.subarray(at + header + 4, at + total)
    unmask(payload, buf, at + header)
    return this.dispatch(opcode, fin, payload) ? total : STOP
  }

  /** Act on one whole frame; false once reading has ended. */
  private dispatch (opcode: number, fin: boolean, payload: Buffer): boolean {
    switch (opcode) {
      case Opcode.text:
      case Opcode.binary:
        if (fin) return this.deliver(payload, opcode === Opcode.binary)
        this.fragmented = { parts: [payload], bytes: payload.length, binary: opcode === Opcode.binary }
        return true
      case Opcode.continuation: {
        const message = this.fragmented!
        message.parts.push(payload)
        message.bytes += payload.length
        if (!fin) return true
        this.fragmented = null
        return this.deliver(Buffer.concat(message.parts, message.bytes), message.binary)
      }
      case Opcode.close: {
        if (payload.length === 1) { this.fail(FrameCloseCode.protocolError, 'close frame of 1 byte'); return false }
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : FrameCloseCode.noStatus
        if (payload.length >= 2 && !isValidCloseCode(code)) { this.fail(FrameCloseCode.protocolError, `invalid close code ${code}`); return false }
        if (!isUtf8(payload.subarray(2))) { this.fail(FrameCloseCode.invalidPayload, 'close reason is not UTF-8'); return false }
        this.stopReading()
        this.onCloseFrame(code)
        return false
      }
      case Opcode.ping:
        this.onPing(payload)
        return true
      default: // pong
        this.onPong()
        return true
    }
  }

  private deliver (data: Buffer, isBinary: boolean): boolean {
    if (!isBinary && !isUtf8(data)) { this.fail(FrameCloseCode.invalidPayload, 'text message is not UTF-8'); return false }
    this.onMessage(data, isBinary)
    return true
  }

  private fail (code: number, reason: string): typeof STOP {
    this.stopReading()
    this.onFrameError(code, reason)
    return STOP
  }

  private stopReading (): void {
    this.readingDone = true
    this.partial = null
    this.fragmented = null
  }
}

/** XOR the payload with the frame's 4-byte mask key, in place (RFC 6455 §5.3). */
const unmask = (payload: Buffer, buf: Buffer, maskAt: number): void => {
  const m0 = buf[maskAt]!; const m1 = buf[maskAt + 1]!; const m2 = buf[maskAt + 2]!; const m3 = buf[maskAt + 3]!
  const n = payload.length
  let i = 0
  for (; i + 3 < n; i += 4) {
    payload[i] = payload[i]! ^ m0
    payload[i + 1] = payload[i + 1]! ^ m1
    payload[i + 2] = payload[i + 2]! ^ m2
    payload[i + 3] = payload[i + 3]! ^ m3
  }
  for (; i < n; i++) payload[i] = payload[i]! ^ (i % 4 === 0 ? m0 : i % 4 === 1 ? m1 : m2)
}
