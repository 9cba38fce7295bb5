import { isSessionEndReason, type SessionEndReason } from '../../shared/api.js'
import type { SessionEnd } from '../errors.js'
import type { SessionRecord } from '../storage/session-store.js'

/** Reasons stored by earlier versions, in today's terms. */
const LEGACY: Record<string, SessionEndReason> = { revoked: 'signed_out_elsewhere', expired: 'expired_idle', admin: 'signed_out_by_admin', disabled: 'account_disabled' }

/** Why an ended session ended, and whether its device is to wipe itself. */
export const endOf = (s: Pick<SessionRecord, 'endReason' | 'wipe'>): SessionEnd => {
  const r = s.endReason ?? ''
  const reason = isSessionEndReason(r) ? r : LEGACY[r] ?? 'signed_out_elsewhere'
  return s.wipe ? { reason, wipe: true } : { reason }
}
