import type { SecurityEventRecord, SessionRecord } from '../storage/session-store.js'
import type { Locate } from './geo.js'
import type { SignalName } from './policy.js'

/** What the detector looks at: a stored security event, or a session used from a new address. */
export interface Trigger {
  kind: 'login' | 'failed_login' | 'refresh_reuse' | 'session_use'
  userId: string
  sessionId?: string
  ip?: string
  userAgent?: string
  at: number
  /** The stored event (absent for a session use, which is no security event of its own). */
  event?: SecurityEventRecord
  /** Session use: the address the session was used from before, and when. */
  previous?: { ip: string, at: number }
}

export interface SignalContext {
  trigger: Trigger
  /** The user's events of `kinds` before the trigger's event, newest first, at most `limit` (default 50). */
  history (kinds: string[], opts?: { since?: number, limit?: number }): Promise<SecurityEventRecord[]>
  session (id: string): Promise<SessionRecord | undefined>
  /** Present with `--geoip`. */
  locate?: Locate
}

export interface SignalHit {
  signal: SignalName
  /** 0..100: how unusual. */
  score: number
  /** Small facts for the stored event and the alert: never secrets. */
  detail?: Record<string, string | number | boolean>
}

/** One signal: looks at a trigger of the kinds it handles and reports a hit, or null. */
export interface Signal {
  name: SignalName
  triggers: Array<Trigger['kind']>
  check (ctx: SignalContext): Promise<SignalHit | null>
}
