import type { AnalyticsDay } from '../../shared/api.js'
import type { SessionObserver } from '../identity/identity.js'
import type { Logger } from '../observe/logger.js'
import type { Metrics } from '../observe/metrics.js'
import type { DailyFigures, SessionRecord, SessionStore } from '../storage/session-store.js'
import { DAY_MS, dayOf, isoDay } from './days.js'
import { DERIVED_NAMES, deriveDay, type DerivedFigures } from './derive.js'
import { platformOf } from './platforms.js'
import { SocketActivity } from './socket-activity.js'

export interface AnalyticsOptions {
  /** A session arriving within this long of another session's activity is a hand-off. */
  handoffWindowMs: number
  /** Activity is kept this many days (at least 31: monthly active users need 30 days of it). */
  retentionDays: number
  /** Open sockets' activity is stored this often; finished days are rolled up and old activity deleted. */
  flushMs: number
  now?: () => number
}

/** Most activity records one query reads (a query spans its days plus the 29 before). */
const MAX_ACTIVITY_ROWS = 500_000
/** Finished days looked at by each roll-up (a node down for longer leaves those days to others). */
const ROLLUP_DAYS = 7
const ROLLED_UP = 'rolled_up'

/**
 * Deployment analytics from the server's own events, never from document content:
 * - counts per UTC day, added atomically (`SessionStore.addDailyCounts`): sessions started (and by
 *   platform), ended (and by reason, and their summed duration), edits (socket-activity.ts);
 * - figures that need to know who was active (active users per day, 7 and 30 days, active sessions,
 *   hand-offs) are derived from per-socket activity, kept only `retentionDays`. Each finished day is
 *   rolled up into stored figures, so beyond retention only aggregates remain.
 */
export class Analytics implements SessionObserver {
  readonly sockets: SocketActivity
  private readonly now: () => number
  private readonly retentionDays: number
  private timer?: NodeJS.Timeout
  private running?: Promise<void>

  constructor (private readonly store: SessionStore, private readonly metrics: Metrics, private readonly logger: Logger, private readonly opts: AnalyticsOptions) {
    this.now = opts.now ?? Date.now
    this.retentionDays = Math.max(31, opts.retentionDays)
    this.sockets = new SocketActivity(store, logger, opts.handoffWindowMs, () => metrics.handoffs.inc(), this.now)
    metrics.live.sessionsOnline = () => this.sockets.sessionsOnline
    metrics.live.socketsOnline = () => this.sockets.socketsOnline
  }

  get handoffWindowMs () { return this.opts.handoffWindowMs }

  started (s: SessionRecord): void {
    const platform = platformOf(s.platform)
    this.metrics.sessionsStarted.inc({ platform })
    this.count(dayOf(s.createdAt), { sessions_started: 1, [`platform:${platform}`]: 1 })
  }

  ended (s: SessionRecord): void {
    const reason = s.endReason ?? 'unknown'
    const at = s.endedAt ?? this.now()
    this.metrics.sessionsEnded.inc({ reason })
    this.count(dayOf(at), { sessions_ended: 1, [`ended:${reason}`]: 1, session_ms: Math.max(0, at - s.createdAt) })
  }

  private count (day: number, counts: Record<string, number>): void {
    this.store.addDailyCounts(day, counts).catch((err: Error) => this.logger.error({ err: err.message }, 'analytics: count failed'))
  }

  /** Days `from` ≤ day < `to`. Days not rolled up yet (today, the last few) are derived from activity. */
  async series (from: number, to: number): Promise<AnalyticsDay[]> {
    const stored = new Map<number, Record<string, number>>((await this.store.dailyFigures(from, to)).map((f: DailyFigures) => [f.day, f.values]))
    const oldestKept = dayOf(this.now() - this.retentionDays * DAY_MS)
    const live: number[] = []
    for (let d = Math.max(from, oldestKept); d < to; d++) if (!stored.get(d)?.[ROLLED_UP]) live.push(d)
    const derived = await this.derive(live)
    const days: AnalyticsDay[] = []
    for (let d = from; d < to; d++) {
      const v: Record<string, number> = { ...stored.get(d), ...derived.get(d) }
      const n = (name: string) => v[name] ?? 0
      const prefixed = (prefix: string) => Object.fromEntries(Object.entries(v).filter(([k]) => k.startsWith(prefix)).map(([k, x]) => [k.slice(prefix.length), x]))
      days.push({
        date: isoDay(d),
        activeUsers: n('active_users'),
        weeklyActiveUsers: n('active_users_7d'),
        monthlyActiveUsers: n('active_users_30d'),
        activeSessions: n('active_sessions'),
        devicesPerUser: n('active_users') ? n('active_sessions') / n('active_users') : 0,
        sessionsStarted: n('sessions_started'),
        platforms: prefixed('platform:'),
        sessionsEnded: n('sessions_ended'),
        endedByReason: prefixed('ended:'),
        avgSessionMs: n('sessions_ended') ? Math.round(n('session_ms') / n('sessions_ended')) : 0,
        edits: n('edits'),
        editsPerSession: n('active_sessions') ? n('edits') / n('active_sessions') : 0,
        handoffs: n('handoffs')
      })
    }
    return days
  }

  private async derive (days: number[]): Promise<Map<number, DerivedFigures>> {
    const out = new Map<number, DerivedFigures>()
    if (days.length === 0) return out
    const first = days[0]!
    const last = days.at(-1)!
    // 30 days for monthly actives; the hand-off window before the first day for its first arrivals.
    const activity = await this.store.activityBetween((first - 29) * DAY_MS - this.opts.handoffWindowMs, (last + 1) * DAY_MS, MAX_ACTIVITY_ROWS)
    if (activity.length >= MAX_ACTIVITY_ROWS) this.logger.warn({ rows: activity.length }, 'analytics: activity beyond the query limit left out; ask for fewer days')
    for (const d of days) out.set(d, deriveDay(d, activity, this.opts.handoffWindowMs))
    return out
  }

  /**
   * Stores open sockets' activity, rolls up finished days (a margin of two flushes after midnight,
   * so the sockets open across it were stored) and deletes activity past retention. Every node may
   * run it: a roll-up writes the same figures from the same rows.
   */
  async maintain (): Promise<void> {
    await this.sockets.flush()
    const now = this.now()
    const today = dayOf(now)
    const rollable: number[] = []
    for (let d = today - ROLLUP_DAYS; d < today; d++) if (now >= (d + 1) * DAY_MS + 2 * this.opts.flushMs) rollable.push(d)
    if (rollable.length > 0) {
      const stored = new Map((await this.store.dailyFigures(rollable[0]!, today)).map(f => [f.day, f.values]))
      const todo = rollable.filter(d => !stored.get(d)?.[ROLLED_UP])
      const derived = await this.derive(todo)
      for (const d of todo) {
        const values: Record<string, number> = { [ROLLED_UP]: 1 }
        for (const name of DERIVED_NAMES) values[name] = derived.get(d)![name]
        await this.store.setDailyValues(d, values)
      }
    }
    const horizon = now - this.retentionDays * DAY_MS
    for (let i = 0; i < 100; i++) if (await this.store.deleteActivityBefore(horizon, 1000) < 1000) break
  }

  start (): void {
    this.timer = setInterval(() => {
      if (this.running) return
      this.running = this.maintain()
        .catch((err: Error) => this.logger.error({ err: err.message }, 'analytics: maintenance failed'))
        .finally(() => { this.running = undefined })
    }, this.opts.flushMs)
    this.timer.unref()
  }

  /** Stops the timer; stores what open sockets did so far. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    await this.running
    await this.sockets.stop()
  }
}
