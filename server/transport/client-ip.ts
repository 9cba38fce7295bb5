import type { IncomingMessage } from 'node:http'
import proxyAddr from '@fastify/proxy-addr'

/**
 * Which addresses on the way to the server are proxies of ours: called with each hop's address and
 * its distance from the server, 0 being the TCP peer, 1 the right-most X-Forwarded-For entry, and so
 * on. The client is the nearest hop that is not trusted. The HTTP API (fastify's `trustProxy`) and
 * socket upgrades use the same function.
 */
export type ProxyTrust = (address: string, hop: number) => boolean

/**
 * `--trusted-proxies`: a number of proxy hops in front of the server, or a comma-separated list of
 * proxy addresses and CIDR ranges (`loopback`, `10.0.0.0/8`, …). Empty: one hop when `--public-url`
 * is set, none otherwise. Null when no hop is trusted: X-Forwarded-For is then ignored.
 *
 * Entries are taken from the right, because each proxy appends the address it received the request
 * from: the left-most entries are whatever the client wrote and prove nothing.
 */
export const proxyTrust = (setting: string, publicUrl: string): ProxyTrust | null => {
  const value = setting.trim() === '' ? (publicUrl ? '1' : '0') : setting.trim()
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    return hops === 0 ? null : (_address, hop) => hop < hops
  }
  // Throws on an entry that is neither an address, a range nor a preset name.
  return proxyAddr.compile(value.split(',').map(v => v.trim()).filter(Boolean))
}

/** The address an upgrade request came from, as the HTTP API sees it (fastify's `request.ip`). */
export const upgradeClientIp = (req: IncomingMessage, trust: ProxyTrust | null): string | undefined =>
  trust ? proxyAddr(req, trust) : req.socket.remoteAddress
