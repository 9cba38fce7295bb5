import net from 'node:net'

/**
 * The network an address belongs to, as far as a change of network matters: the /24 of an IPv4
 * address, the /48 of an IPv6 address (an IPv4-mapped IPv6 address counts as IPv4). Unparsable
 * input is its own network.
 */
export const networkOf = (ip: string | undefined): string => {
  if (!ip) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  const v4 = mapped ? mapped[1]! : ip
  if (net.isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`
  if (!net.isIPv6(ip)) return ip
  const [head = '', tail = ''] = ip.toLowerCase().split('::')
  const h = head ? head.split(':') : []
  const t = ip.includes('::') && tail ? tail.split(':') : []
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h
  return `${groups.slice(0, 3).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/48`
}
