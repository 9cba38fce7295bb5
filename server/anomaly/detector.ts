import type { Logger } from '../observe/logger.js'
import type { SecurityEventRecord, SessionRecord, SessionStore } from '../storage/session-store.js'
import type { SecurityLog } from '../identity/security-events.js'
import type { Locate } from './geo.js'
import { placeName } from './geo.js'
import { strongest, type AnomalyAction, type SignalName } from './policy.js'
import type { Signal, SignalContext, SignalHit, Trigger } from './signal.js'
import { ALL_SIGNALS } from './signals/index.js'

/** The kind of the stored event an anomaly becomes; alerts are these. */
export const ANOMALY_KIND = 'anomaly'
/** The same signal for the same user and session is reported once per this window. */
const REPEAT_WINDOW_MS = 10 * 60_000
const REPEAT_KEYS_MAX = 10_000

const TRIGGERS: Record<string, Trigger['kind']> = {
  login_ok: 'login', login_failed: 'failed_login', mfa_challenge_failed: 'failed_login', refresh_reuse: 'refresh_reuse'
}

export interface AnomalyActions {
  requireStepUp (sessionId: string): Promise<void>
  revoke (sessionId: string, reason: string): Promise<unknown>
}

/**
 * Anomaly detection: each stored security event of interest (and each session used from a new
 * address) runs the signals that handle it; the hits of one trigger become one stored `anomaly`
 * event, scored by its strongest signal (plus 10 per further one), and the strongest action the
 * policy names for them is applied to the session. `onAnomaly` then alerts the user's devices.
 */
export class AnomalyDetector {
  private readonly reported = new Map<string, number>()
  /** Evaluations in flight (tests and shutdown wait for them). */
  private running = new Set<Promise<void>>()

  constructor (
    private readonly store: SessionStore,
    private readonly log: SecurityLog,
    private readonly policy: Record<SignalName, AnomalyAction>,
    private readonly actions: AnomalyActions,
    private readonly onAnomaly: (e: SecurityEventRecord) => void,
    private readonly logger: Logger,
    private readonly locate?: Locate,
    private readonly signals: Signal[] = ALL_SIGNALS
  ) {}

  /** For `SecurityLog.onEvent`: returns at once, the evaluation runs after. */
  onEvent = (e: SecurityEventRecord): void => {
    const kind = TRIGGERS[e.kind]
    if (!kind || !e.userId) return
    this.track({ kind, userId: e.userId, sessionId: e.sessionId, ip: e.ip, userAgent: e.userAgent, at: e.at, event: e })
  }

  /** For `Identity.onSessionUse`. */
  onSessionUse = (s: SessionRecord, ip: string): void => {
    this.track({ kind: 'session_use', userId: s.userId, sessionId: s.id, ip, userAgent: s.userAgent, at: Date.now(), previous: { ip: s.lastIp, at: s.lastSeenAt } })
  }

  /** Resolves once every evaluation started so far has finished. */
  async idle (): Promise<void> { while (this.running.size > 0) await Promise.all([...this.running]) }

  private track (t: Trigger): void {
    const run = this.evaluate(t).catch((err: Error) => this.logger.error({ err: err.message, trigger: t.kind }, 'anomaly evaluation failed'))
    this.running.add(run)
    void run.finally(() => this.running.delete(run))
  }

  private async evaluate (trigger: Trigger): Promise<void> {
    const ctx: SignalContext = {
      trigger,
      history: async (kinds, opts = {}) => {
        const rows = await this.store.securityEvents({ userId: trigger.userId, kinds, since: opts.since, before: trigger.event?.id, limit: opts.limit ?? 50 })
        return trigger.event ? rows : rows.filter(e => e.at <= trigger.at)
      },
      session: id => this.store.sessionById(id),
      locate: this.locate
    }
    const hits: SignalHit[] = []
    for (const signal of this.signals) {
      if (!signal.triggers.includes(trigger.kind)) continue
      const hit = await signal.check(ctx)
      if (hit && this.fresh(trigger, hit.signal)) hits.push(hit)
    }
    if (hits.length === 0) return
    hits.sort((a, b) => b.score - a.score)
    const top = hits[0]!
    const score = Math.min(100, top.score + 10 * (hits.length - 1))
    const action = strongest(hits.map(h => this.policy[h.signal]))
    const session = trigger.sessionId ? await this.store.sessionById(trigger.sessionId) : undefined
    const place = trigger.ip ? placeName(this.locate?.(trigger.ip)) : undefined
    const detail: Record<string, string | number | boolean> = Object.assign({}, ...hits.map(h => h.detail ?? {}), {
      signals: hits.map(h => h.signal).join(','),
      action,
      ...(session ? { deviceName: session.deviceName, platform: session.platform } : {}),
      ...(place ? { place } : {})
    })
    const e = await this.log.record(ANOMALY_KIND, {
      userId: trigger.userId, sessionId: trigger.sessionId, ip: trigger.ip, userAgent: trigger.userAgent, reason: top.signal, score, detail
    })
    if (session && !session.endedAt) {
      if (action === 'step_up') await this.actions.requireStepUp(session.id)
      if (action === 'revoke') await this.actions.revoke(session.id, `anomaly: ${top.signal}`)
    }
    this.onAnomaly(e)
  }

  /** False when this signal was reported for the same user and session within the repeat window. */
  private fresh (t: Trigger, signal: SignalName): boolean {
    const key = `${t.userId}|${t.sessionId ?? ''}|${signal}`
    const last = this.reported.get(key)
    if (last !== undefined && t.at - last < REPEAT_WINDOW_MS) return false
    if (this.reported.size >= REPEAT_KEYS_MAX) this.reported.clear()
    this.reported.set(key, t.at)
    return true
  }
}
