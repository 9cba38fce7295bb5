import type { ServerConfig } from '../config.js'
import type { SessionRecord } from '../storage/session-store.js'

const MIN = 60_000
const DAY = 24 * 60 * MIN

/**
 * Device-session expiry presets. `standard` suits consumer apps; `strict` follows the short idle
 * windows financial and health apps are held to. `--idle-timeout-ms` / `--absolute-lifetime-ms`
 * override either value.
 */
export const EXPIRY_PRESETS = {
  standard: { idleTimeoutMs: 30 * DAY, absoluteLifetimeMs: 90 * DAY },
  strict: { idleTimeoutMs: 15 * MIN, absoluteLifetimeMs: 12 * 60 * MIN }
} as const

export interface ExpiryPolicy { idleTimeoutMs: number, absoluteLifetimeMs: number }

export const expiryPolicy = (c: Pick<ServerConfig, 'sessionPolicy' | 'idleTimeoutMs' | 'absoluteLifetimeMs'>): ExpiryPolicy => {
  const preset = EXPIRY_PRESETS[c.sessionPolicy as keyof typeof EXPIRY_PRESETS] ?? EXPIRY_PRESETS.standard
  return {
    idleTimeoutMs: c.idleTimeoutMs || preset.idleTimeoutMs,
    absoluteLifetimeMs: c.absoluteLifetimeMs || preset.absoluteLifetimeMs
  }
}

type Timed = Pick<SessionRecord, 'createdAt' | 'lastSeenAt' | 'lastActiveAt'>

/**
 * The last user activity the server knows of: reported activity or an accepted edit (sign-in counts).
 * Records written before activity was tracked fall back to their last contact.
 */
export const lastActive = (s: Timed): number => s.lastActiveAt ?? s.lastSeenAt

/**
 * A session's deadlines under the policy in force now, not the one it was created under: a changed
 * `--session-policy` / `--idle-timeout-ms` / `--absolute-lifetime-ms` applies to existing sessions
 * from the next check on. Idle time counts from the last activity, the absolute lifetime from sign-in.
 */
export const sessionDeadlines = (s: Timed, p: ExpiryPolicy): { idle: number, absolute: number } => ({
  idle: lastActive(s) + p.idleTimeoutMs,
  absolute: s.createdAt + p.absoluteLifetimeMs
})

/** When the session ends unless it is used again (idle) — never later than its absolute end. */
export const sessionDeadline = (s: Timed, p: ExpiryPolicy): number => {
  const d = sessionDeadlines(s, p)
  return Math.min(d.idle, d.absolute)
}

/** Which deadline has passed at `now`, if any (the absolute one wins when both have). */
export const expiryReason = (s: Timed, p: ExpiryPolicy, now = Date.now()): 'expired_absolute' | 'expired_idle' | null => {
  const d = sessionDeadlines(s, p)
  return now >= d.absolute ? 'expired_absolute' : now >= d.idle ? 'expired_idle' : null
}
