import type { Signal } from '../signal.js'

export const FAILED_LOGIN_WINDOW_MS = 15 * 60_000
/** Failed sign-ins (password or second factor) on one account within the window. */
export const FAILED_LOGIN_THRESHOLD = 5

/** Someone is guessing this account's password or second factor. */
export const failedLoginBurst: Signal = {
  name: 'failed_login_burst',
  triggers: ['failed_login'],
  async check ({ trigger, history }) {
    const earlier = await history(['login_failed', 'mfa_challenge_failed'], { since: trigger.at - FAILED_LOGIN_WINDOW_MS, limit: 100 })
    const failures = earlier.length + 1
    if (failures < FAILED_LOGIN_THRESHOLD) return null
    return { signal: 'failed_login_burst', score: Math.min(90, 40 + failures * 2), detail: { failures } }
  }
}
