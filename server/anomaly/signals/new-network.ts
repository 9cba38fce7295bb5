import type { Signal } from '../signal.js'
import { networkOf } from '../network.js'

/**
 * A sign-in from a network (/24, /48) none of the user's last 50 sign-ins came from; scored higher
 * when `--geoip` places it in a country none of them came from.
 */
export const newNetwork: Signal = {
  name: 'new_network',
  triggers: ['login'],
  async check ({ trigger, history, locate }) {
    const earlier = (await history(['login_ok'])).filter(e => e.ip)
    if (earlier.length === 0 || !trigger.ip) return null
    const network = networkOf(trigger.ip)
    if (earlier.some(e => networkOf(e.ip) === network)) return null
    const country = locate?.(trigger.ip)?.country
    const newCountry = country !== undefined && !earlier.some(e => locate?.(e.ip!)?.country === country)
    return { signal: 'new_network', score: newCountry ? 60 : 40, detail: { network } }
  }
}
