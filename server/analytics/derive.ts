import type { ActivityRecord } from '../storage/session-store.js'
import { DAY_MS } from './days.js'

/** Figures of one day that need to know who was active, not only counts: derived from activity. */
export interface DerivedFigures {
  /** Distinct users with a socket open during the day, the 7 days and the 30 days ending with it. */
  active_users: number
  active_users_7d: number
  active_users_30d: number
  /** Distinct device sessions with a socket open during the day. */
  active_sessions: number
  /** Hand-offs that happened during the day (see `handoffTimes`). */
  handoffs: number
}

export const DERIVED_NAMES: (keyof DerivedFigures)[] = ['active_users', 'active_users_7d', 'active_users_30d', 'active_sessions', 'handoffs']

const overlaps = (a: ActivityRecord, from: number, to: number) => a.start < to && a.end >= from

/** `activity` must hold every record overlapping the 30 days that end with `day`. */
export const deriveDay = (day: number, activity: ActivityRecord[], windowMs: number): DerivedFigures => {
  const from = day * DAY_MS
  const to = from + DAY_MS
  const users = (since: number) => new Set(activity.filter(a => overlaps(a, since, to)).map(a => a.userId)).size
  return {
    active_users: users(from),
    active_users_7d: users(to - 7 * DAY_MS),
    active_users_30d: users(to - 30 * DAY_MS),
    active_sessions: new Set(activity.filter(a => overlaps(a, from, to)).map(a => a.sessionId)).size,
    handoffs: handoffTimes(activity, windowMs).filter(t => t >= from && t < to).length
  }
}

/**
 * When users continued on another device. A device session *arrives* when a socket of it opens and
 * none of its sockets was open within `windowMs` before; the arrival is a hand-off when another
 * session of the same user had a socket open within that window (up to the arrival). Sockets opening
 * at the same moment count in (start, id) order. `activity` must include the window before the first
 * arrival of interest.
 */
export const handoffTimes = (activity: ActivityRecord[], windowMs: number): number[] => {
  const byUser = new Map<string, ActivityRecord[]>()
  for (const a of activity) {
    const list = byUser.get(a.userId)
    if (list) list.push(a)
    else byUser.set(a.userId, [a])
  }
  const out: number[] = []
  for (const list of byUser.values()) {
    list.sort((x, y) => x.start - y.start || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
    list.forEach((a, i) => { if (isHandoff(list, i, a.sessionId, a.start, windowMs)) out.push(a.start) })
  }
  return out
}

/**
 * Whether a socket of `sessionId` opening at `t` is a hand-off, given the user's first `count`
 * earlier sockets (`end` = Infinity for open ones). Used for the stored figures and the live metric.
 */
export const isHandoff = (earlier: Pick<ActivityRecord, 'sessionId' | 'start' | 'end'>[], count: number, sessionId: string, t: number, windowMs: number): boolean => {
  let own = false
  let other = false
  for (let i = 0; i < count; i++) {
    const e = earlier[i]!
    if (e.start > t || e.end < t - windowMs) continue
    if (e.sessionId === sessionId) own = true
    else other = true
  }
  return other && !own
}
