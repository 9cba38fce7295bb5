import type { Signal } from '../signal.js'

/** A user agent without its version numbers: the same browser on the same system after an update is no new device. */
export const deviceFamily = (userAgent: string | undefined): string => (userAgent ?? '').replace(/[\d._]+/g, '').replace(/\s+/g, ' ').trim().slice(0, 160)

/** A sign-in from a device kind (user agent without versions) none of the user's last 50 sign-ins came from. */
export const newDevice: Signal = {
  name: 'new_device',
  triggers: ['login'],
  async check ({ trigger, history }) {
    const earlier = await history(['login_ok'])
    if (earlier.length === 0) return null // the first sign-in sets the baseline
    const family = deviceFamily(trigger.userAgent)
    if (earlier.some(e => deviceFamily(e.userAgent) === family)) return null
    return { signal: 'new_device', score: 30 }
  }
}
