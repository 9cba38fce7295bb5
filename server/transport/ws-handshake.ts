import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/**
 * The server side of the WebSocket opening handshake (RFC 6455 §4.2), checked before the request is
 * authenticated so that a request that could never become a WebSocket costs no token check. What is
 * checked is what `ws`'s server checks; permessage-deflate and other extensions are never negotiated.
 */

/** RFC 6455 §1.3: appended to the client's key before hashing. */
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
/** A base64-encoded 16-byte nonce. */
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/

export type HandshakeCheck =
  | { ok: true, key: string }
  | { ok: false, status: 400 | 405 | 426, message: string }

export const checkHandshake = (req: IncomingMessage): HandshakeCheck => {
  if (req.method !== 'GET') return { ok: false, status: 405, message: 'a WebSocket upgrade must be a GET request' }
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { ok: false, status: 400, message: 'Upgrade header must be "websocket"' }
  const key = req.headers['sec-websocket-key']
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return { ok: false, status: 400, message: 'missing or invalid Sec-WebSocket-Key header' }
  // 426 tells the client which versions we speak (RFC 6455 §4.4); 8 frames as 13 does, and ws accepts it too.
  const version = req.headers['sec-websocket-version']
  if (version !== '13' && version !== '8') return { ok: false, status: 426, message: 'Sec-WebSocket-Version must be 13' }
  return { ok: true, key }
}

/** The header a 426 refusal must carry. */
export const VERSION_HEADER = 'Sec-WebSocket-Version: 13, 8'

/**
 * The subprotocol to answer with: `wanted` if the client offered it, else none. Other entries (an
 * access token sent as a subprotocol) are never echoed back.
 */
export const pickSubprotocol = (req: IncomingMessage, wanted: string): string | null => {
  const offered = req.headers['sec-websocket-protocol']
  if (!offered) return null
  return offered.split(',').some(p => p.trim() === wanted) ? wanted : null
}

/** The 101 response that completes the handshake. */
export const acceptResponse = (key: string, subprotocol: string | null): string =>
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  `Sec-WebSocket-Accept: ${createHash('sha1').update(key + ACCEPT_GUID).digest('base64')}\r\n` +
  (subprotocol ? `Sec-WebSocket-Protocol: ${subprotocol}\r\n` : '') + '\r\n'
