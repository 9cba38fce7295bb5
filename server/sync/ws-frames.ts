/**
 * Server-to-client WebSocket framing (RFC 6455 §5.2) for a turn's worth of binary messages, so a socket
 * gets one `write` per event-loop turn. Through `ws.send`, every delivery allocated an options object,
 * a header buffer, a two-element array and a stream write request (~560 bytes per delivery, about a
 * sixth of what the server allocated at 10k edits/s). The server never negotiates permessage-deflate
 * (upgrade.ts), so a frame is FIN + binary opcode, no mask, and the payload as is; ws's own frames
 * (pings, close) go to the same socket and stay in order, since its sender only queues while
 * compressing or reading a Blob, which this server never does.
 */

const FIN_BINARY = 0x82

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
