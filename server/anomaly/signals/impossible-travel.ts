import type { Signal } from '../signal.js'
import { distanceKm, placeName } from '../geo.js'

/** Faster than an airliner, over a distance that is more than a geolocation error. */
const MAX_KMH = 1000
const MIN_KM = 500

/**
 * With `--geoip`: the user (a sign-in) or a session (a use) appears somewhere it cannot have travelled
 * to from where it was last seen, in the time between.
 */
export const impossibleTravel: Signal = {
  name: 'impossible_travel',
  triggers: ['login', 'session_use'],
  async check ({ trigger, history, locate }) {
    if (!locate || !trigger.ip) return null
    let prev = trigger.previous
    if (!prev) {
      const last = (await history(['login_ok'], { limit: 10 })).find(e => e.ip && e.ip !== trigger.ip)
      prev = last && { ip: last.ip!, at: last.at }
    }
    if (!prev) return null
    const [from, to] = [locate(prev.ip), locate(trigger.ip)]
    if (!from || !to) return null
    const km = distanceKm(from, to)
    const hours = Math.max(trigger.at - prev.at, 60_000) / 3_600_000
    if (km < MIN_KM || km / hours < MAX_KMH) return null
    return { signal: 'impossible_travel', score: 85, detail: { km: Math.round(km), from: placeName(from) ?? '?', to: placeName(to) ?? '?' } }
  }
}
