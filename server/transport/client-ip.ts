import type { IncomingMessage } from 'node:http'

/**
 * The address an upgrade request came from, as the HTTP API sees it (fastify's `request.ip`): behind
 * a proxy (`--public-url`, which turns fastify's `trustProxy` on) the left-most X-Forwarded-For entry,
 * otherwise the TCP peer. Without this, a device's socket would record the proxy's address as the
 * session's last IP on the session dashboard.
 */
export const upgradeClientIp = (req: IncomingMessage, behindProxy: boolean): string | undefined => {
  if (behindProxy) {
    const header = req.headers['x-forwarded-for']
    const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim()
    if (first) return first
  }
  const socket = req.socket
  const address = socket.remoteAddress
  // Node caches `{ address, family, port }` on the socket for its whole life (`_peername`, ~90 bytes
  // with its string). A sync socket lives for hours and needs its address once, here: dropping the
  // cache saves 0.4 MB per 5000 connected devices. Node reads the handle again if asked later.
  ;(socket as unknown as { _peername?: unknown })._peername = undefined
  return address
}
