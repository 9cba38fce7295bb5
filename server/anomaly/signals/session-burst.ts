import type { Signal } from '../signal.js'

export const SESSION_BURST_WINDOW_MS = 10 * 60_000
/** New device sessions of one account within the window, this one included. */
export const SESSION_BURST_THRESHOLD = 5

/** Many new sessions in a short time: a script signing in with a known password. */
export const sessionBurst: Signal = {
  name: 'session_burst',
  triggers: ['login'],
  async check ({ trigger, history }) {
    const sessions = (await history(['login_ok'], { since: trigger.at - SESSION_BURST_WINDOW_MS, limit: 100 })).length + 1
    if (sessions < SESSION_BURST_THRESHOLD) return null
    return { signal: 'session_burst', score: Math.min(90, 30 + sessions * 4), detail: { sessions } }
  }
}
