import type { Logger } from '../observe/logger.js'

export type SecurityEventKind =
  | 'register' | 'login_ok' | 'login_failed' | 'new_device' | 'mfa_challenge_failed'
  | 'refresh_reuse' | 'dpop_key_mismatch' | 'session_revoked' | 'session_expired' | 'logout'
  | 'mfa_enabled' | 'mfa_disabled' | 'recovery_code_used' | 'password_changed' | 'rate_limited'
  | 'pairing_approved' | 'pairing_denied' | 'pairing_code_failed'
  | 'passkey_added' | 'passkey_removed' | 'passkey_failed'
  | 'admin_action'

/**
 * One JSON log line per security-relevant event (`event: "security"`), greppable and shippable to a
 * SIEM. Only identifiers go in: user id, session id, IP, reason. Never tokens, codes or passwords.
 */
export const securityEvent = (logger: Logger, kind: SecurityEventKind, fields: { userId?: string, sessionId?: string, ip?: string, reason?: string }, counter?: { inc (labels: { kind: string }): void }) => {
  logger.info({ event: 'security', kind, ...fields }, `security: ${kind}`)
  counter?.inc({ kind })
}
