import { randomBytes } from 'node:crypto'
import type { Logger } from '../observe/logger.js'
import { securityEventTimeKey, type SecurityEventRecord, type SessionStore } from '../storage/session-store.js'

export type SecurityEventKind =
  | 'register' | 'login_ok' | 'login_failed' | 'new_device' | 'mfa_challenge_failed'
  | 'refresh_reuse' | 'dpop_key_mismatch' | 'session_revoked' | 'session_expired' | 'logout'
  | 'mfa_enabled' | 'mfa_disabled' | 'recovery_code_used' | 'password_changed' | 'rate_limited'
  | 'pairing_approved' | 'pairing_denied' | 'pairing_code_failed'
  | 'passkey_added' | 'passkey_removed' | 'passkey_failed'
  | 'admin_action'

export type SecurityEventFields = Omit<SecurityEventRecord, 'id' | 'at' | 'kind'>
export type SecurityEventListener = (e: SecurityEventRecord) => void | Promise<void>

let lastAt = 0
let sameMs = 0

/**
 * An id that sorts by time (ms, fixed width), then by the order this process made ids in one
 * millisecond, and is unique across processes (48 random bits).
 */
export const securityEventId = (at: number): string => {
  sameMs = at === lastAt ? sameMs + 1 : 0
  lastAt = at
  return `${securityEventTimeKey(at)}-${sameMs.toString(36).padStart(4, '0')}-${randomBytes(6).toString('hex')}`
}

/**
 * Events nobody is signed in for (a failed login on an unknown email, a rate-limited IP) come as fast
 * as an attacker sends requests: they are always logged and counted, but stored at most once per
 * kind and address per this window, so a flood cannot fill the store.
 */
const ANONYMOUS_STORE_WINDOW_MS = 60_000
/** Addresses remembered for that window; past it the memory starts over (bounded). */
const ANONYMOUS_KEYS_MAX = 10_000

/**
 * The security event log. Each event is one JSON log line (`event: "security"`, greppable and
 * shippable to a SIEM), a metric, and a stored record (`SessionStore.addSecurityEvent`) that the
 * account's export, the admin API and anomaly detection read; listeners (`onEvent`) see it after it
 * is stored. Only identifiers go in: user and session ids, IP, user agent, a reason. Never tokens,
 * codes or passwords.
 */
export class SecurityLog {
  private readonly listeners: SecurityEventListener[] = []
  private readonly anonymousStored = new Map<string, number>()

  constructor (
    private readonly store: SessionStore,
    private readonly logger: Logger,
    private readonly counter?: { inc (labels: { kind: string }): void },
    private readonly now: () => number = Date.now
  ) {}

  /** Called with every stored event; a listener's failure is logged, never thrown to the recorder. */
  onEvent (listener: SecurityEventListener): () => void {
    this.listeners.push(listener)
    return () => { const i = this.listeners.indexOf(listener); if (i >= 0) this.listeners.splice(i, 1) }
  }

  /** Logs, counts and stores one event; resolves with the record (also when storing was skipped or failed). */
  async record (kind: SecurityEventKind | (string & {}), fields: SecurityEventFields): Promise<SecurityEventRecord> {
    const at = this.now()
    const e: SecurityEventRecord = { id: securityEventId(at), at, kind, ...definedOnly(fields) }
    this.logger.info({ event: 'security', ...e, id: undefined, at: undefined }, `security: ${kind}`)
    this.counter?.inc({ kind })
    if (!this.worthStoring(e)) return e
    try {
      await this.store.addSecurityEvent(e)
    } catch (err) {
      this.logger.error({ kind, err: (err as Error).message }, 'could not store a security event')
      return e
    }
    for (const listener of this.listeners) {
      try {
        await listener(e)
      } catch (err) {
        this.logger.error({ kind, err: (err as Error).message }, 'security event listener failed')
      }
    }
    return e
  }

  private worthStoring (e: SecurityEventRecord): boolean {
    if (e.userId) return true
    const key = `${e.kind}|${e.ip ?? ''}`
    const last = this.anonymousStored.get(key)
    if (last !== undefined && e.at - last < ANONYMOUS_STORE_WINDOW_MS) return false
    if (this.anonymousStored.size >= ANONYMOUS_KEYS_MAX) this.anonymousStored.clear()
    this.anonymousStored.set(key, e.at)
    return true
  }
}

const definedOnly = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
