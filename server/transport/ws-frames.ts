/**
 * Server-to-client WebSocket framing (RFC 6455 §5.2): a turn's worth of binary messages as one buffer,
 * so a socket gets one `write` per event-loop turn, and the control frames (ping, pong, close). Through
 * `ws.send`, every delivery allocated an options object, a header buffer, a two-element array and a
 * stream write request (~560 bytes per delivery, about a sixth of what the server allocated at 10k
 * edits/s). The server never negotiates permessage-deflate (ws-handshake.ts), so a frame is FIN +
 * opcode, no mask (server frames are never masked), and the payload as is.
 */
import { Opcode } from './ws-reader.js'

const FIN = 0x80
const FIN_BINARY = FIN | Opcode.binary
/** A close frame's reason: at most 125 bytes of payload, 2 of them the code. */
const MAX_CLOSE_REASON_BYTES = 123

const headerLength = (n: number) => n < 126 ? 2 : n < 65536 ? 4 : 10

const writeHeader = (out: Buffer, at: number, n: number): number => {
  out[at] = FIN_BINARY
  if (n < 126) { out[at + 1] = n; return at + 2 }
  if (n < 65536) { out[at + 1] = 126; out.writeUInt16BE(n, at + 2); return at + 4 }
  out[at + 1] = 127
  out.writeUInt32BE(Math.floor(n / 2 ** 32), at + 2)
  out.writeUInt32BE(n >>> 0, at + 6)
  return at + 10
}

/** One buffer holding every message as a complete binary frame, in order. */
export const encodeBinaryFrames = (messages: readonly Uint8Array[]): Buffer => {
  let size = 0
  for (const m of messages) size += headerLength(m.byteLength) + m.byteLength
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const m of messages) {
    at = writeHeader(out, at, m.byteLength)
    out.set(m, at)
    at += m.byteLength
  }
  return out
}

/** Just the header of one binary frame (a big payload is written after it, without a copy). */
export const encodeBinaryFrameHeader = (payloadLength: number): Buffer => {
  const out = Buffer.allocUnsafe(headerLength(payloadLength))
  writeHeader(out, 0, payloadLength)
  return out
}

/** A ping, pong or close frame: FIN, the opcode, and a payload of at most 125 bytes. */
export const encodeControlFrame = (opcode: number, payload: Uint8Array): Buffer => {
  const out = Buffer.allocUnsafe(2 + payload.byteLength)
  out[0] = FIN | opcode
  out[1] = payload.byteLength
  out.set(payload, 2)
  return out
}

/** The empty ping every liveness round sends; frames are never changed once written, so one serves all. */
export const PING_FRAME = encodeControlFrame(Opcode.ping, new Uint8Array(0))

/**
 * A close frame with `code` and `reason`, the reason cut to 123 bytes on a character boundary (a close
 * frame's payload is at most 125 bytes, and a reason cut inside a character would not be UTF-8).
 * `code` null: a close frame without a status, the answer to a peer's close that carried none.
 */
export const encodeCloseFrame = (code: number | null, reason = ''): Buffer => {
  if (code === null) return encodeControlFrame(Opcode.close, new Uint8Array(0))
  let text = Buffer.from(reason)
  if (text.length > MAX_CLOSE_REASON_BYTES) {
    let end = MAX_CLOSE_REASON_BYTES
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end-- // back off continuation bytes to a character start
    text = text.subarray(0, end)
  }
  const payload = Buffer.allocUnsafe(2 + text.length)
  payload.writeUInt16BE(code, 0)
  payload.set(text, 2)
  return encodeControlFrame(Opcode.close, payload)
}
