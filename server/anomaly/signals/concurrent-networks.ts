import type { Signal } from '../signal.js'
import { distanceKm } from '../geo.js'
import { networkOf } from '../network.js'

/** Uses of one session from two networks within this window count as "at once". */
export const CONCURRENT_WINDOW_MS = 5 * 60_000
/** With `--geoip`, networks closer than this (a phone moving from Wi-Fi to mobile data) are no signal. */
const NEARBY_KM = 100

/** One device session used from two different networks within minutes: its tokens may have been copied. */
export const concurrentNetworks: Signal = {
  name: 'concurrent_networks',
  triggers: ['session_use'],
  async check ({ trigger, locate }) {
    const prev = trigger.previous
    if (!prev || !trigger.ip || trigger.at - prev.at > CONCURRENT_WINDOW_MS) return null
    if (networkOf(prev.ip) === networkOf(trigger.ip)) return null
    const [a, b] = [locate?.(prev.ip), locate?.(trigger.ip)]
    if (a && b && distanceKm(a, b) < NEARBY_KM) return null
    return { signal: 'concurrent_networks', score: 60, detail: { previousNetwork: networkOf(prev.ip), network: networkOf(trigger.ip) } }
  }
}
