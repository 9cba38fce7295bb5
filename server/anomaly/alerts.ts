import { ErrorCode, sessionDocName, type SecurityAlert, type SecurityAlertMessage } from '../../shared/api.js'
import { encodeSecurityAlert } from '../../shared/protocol.js'
import { Failure } from '../errors.js'
import type { Authed, Identity, RequestContext } from '../identity/identity.js'
import type { SecurityEventRecord, SessionStore } from '../storage/session-store.js'
import type { Rooms } from '../sync/rooms.js'
import type { SessionEventBus } from '../cluster/session-event-bus.js'
import { ANOMALY_KIND } from './detector.js'

/** Open alerts are the anomalies of this long ago at most… */
const OPEN_FOR_MS = 30 * 24 * 3600_000
/** … among the user's last this many. */
const OPEN_MAX = 50
const CONFIRMED = 'alert_confirmed'
const SIGNED_OUT = 'alert_signed_out'

/**
 * Sends an alert message (JSON) to the user's session-document sockets on this node that read
 * extension messages, except those of `exceptSession`; how many it went to.
 */
export const sendAlertHere = (rooms: Rooms, userId: string, json: string, exceptSession?: string): Promise<number> =>
  rooms.sendTo(sessionDocName(userId), encodeSecurityAlert(json),
    conn => conn.readsExtensions && conn.principal.userId === userId && (!exceptSession || conn.principal.sessionId !== exceptSession))

export const alertOf = (e: SecurityEventRecord): SecurityAlert => {
  const d = e.detail ?? {}
  const str = (k: string) => (typeof d[k] === 'string' ? d[k] as string : undefined)
  const action = str('action')
  return {
    id: e.id,
    at: e.at,
    signal: e.reason ?? 'unknown',
    signals: (str('signals') ?? e.reason ?? '').split(',').filter(Boolean),
    score: e.score ?? 0,
    action: action === 'step_up' || action === 'revoke' ? action : 'notify',
    sessionId: e.sessionId,
    device: str('deviceName') !== undefined ? { name: str('deviceName')!, platform: str('platform') ?? '' } : undefined,
    ip: e.ip,
    place: str('place')
  }
}

/**
 * Security alerts: anomalies shown to the user. New ones and resolutions are sent live on the
 * user's session-document sockets that read extension messages (`securityAlert`, shared/protocol.ts),
 * except the sockets of the session the alert is about, on every node (through the session event
 * stream); `open` lists the unresolved ones. Resolutions
 * ("it was me", "sign it out") are stored security events, so every device agrees on them.
 */
export class SecurityAlerts {
  constructor (private readonly store: SessionStore, private readonly identity: Identity, private readonly events: SessionEventBus) {}

  /** An anomaly was stored: tell the user's other devices. */
  announce = (e: SecurityEventRecord): void => {
    if (!e.userId) return
    void this.send(e.userId, { type: 'alert', alert: alertOf(e) }, e.sessionId)
  }

  async open (userId: string): Promise<SecurityAlert[]> {
    const since = Date.now() - OPEN_FOR_MS
    const anomalies = await this.store.securityEvents({ userId, kinds: [ANOMALY_KIND], since, limit: OPEN_MAX })
    if (anomalies.length === 0) return []
    const resolved = await this.store.securityEvents({ userId, kinds: [CONFIRMED, SIGNED_OUT], since, limit: OPEN_MAX * 2 })
    const done = new Set(resolved.map(r => r.detail?.alertId))
    return anomalies.filter(e => !done.has(e.id)).map(alertOf)
  }

  /** "It was me." */
  async confirm (a: Authed, id: string, ctx: RequestContext): Promise<void> {
    const alert = await this.find(a.user.id, id)
    // Whoever holds the session the alert is about may be the intruder: another device must answer.
    if (alert.sessionId === a.session.id) throw new Failure(ErrorCode.conflict, 'this alert is about the device asking: confirm it on another device')
    await this.identity.securityLog.record(CONFIRMED, { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip, reason: alert.signal, detail: { alertId: id } })
    await this.send(a.user.id, { type: 'resolved', id, resolution: 'confirmed' })
  }

  /** "Sign it out": ends the session the alert is about (not the one asking). */
  async signOut (a: Authed, id: string, ctx: RequestContext): Promise<void> {
    const alert = await this.find(a.user.id, id)
    if (!alert.sessionId) throw new Failure(ErrorCode.conflict, 'this alert is about no single device session')
    if (alert.sessionId === a.session.id) throw new Failure(ErrorCode.conflict, 'this alert is about the device asking: sign out instead')
    const s = await this.store.sessionById(alert.sessionId)
    if (s && !s.endedAt) await this.identity.revokeSession(a, alert.sessionId, ctx)
    await this.identity.securityLog.record(SIGNED_OUT, { userId: a.user.id, sessionId: a.session.id, ip: ctx.ip, reason: alert.signal, detail: { alertId: id, revokedSession: alert.sessionId } })
    await this.send(a.user.id, { type: 'resolved', id, resolution: 'signed_out' })
  }

  private async find (userId: string, id: string): Promise<SecurityAlert> {
    const alert = (await this.open(userId)).find(x => x.id === id)
    if (!alert) throw new Failure(ErrorCode.notFound, 'no such open alert')
    return alert
  }

  private send (userId: string, message: SecurityAlertMessage, exceptSession?: string): Promise<void> {
    return this.events.publish({ kind: 'security-alert', userId, message: JSON.stringify(message), exceptSession })
  }
}
