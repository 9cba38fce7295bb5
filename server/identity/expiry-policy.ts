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

export const expiryPolicy = (c: Pick<ServerConfig, 'sessionPolicy' | 'idleTimeoutMs' | 'absoluteLifetimeMs'>) => {
  const preset = EXPIRY_PRESETS[c.sessionPolicy as keyof typeof EXPIRY_PRESETS] ?? EXPIRY_PRESETS.standard
  return {
    idleTimeoutMs: c.idleTimeoutMs || preset.idleTimeoutMs,
    absoluteLifetimeMs: c.absoluteLifetimeMs || preset.absoluteLifetimeMs
  }
}

/** When the session ends unless it is used again (idle) — never later than its absolute end. */
export const sessionDeadline = (s: Pick<SessionRecord, 'lastSeenAt' | 'idleTimeoutMs' | 'absoluteExpiresAt'>): number =>
  Math.min(s.lastSeenAt + s.idleTimeoutMs, s.absoluteExpiresAt)
