import { describe, expect, it } from 'vitest'
import { DAY_MS, dayOf, isoDay, parseIsoDay } from '../../server/analytics/days.js'
import { deriveDay, handoffTimes } from '../../server/analytics/derive.js'
import { platformOf } from '../../server/analytics/platforms.js'
import type { ActivityRecord } from '../../server/storage/session-store.js'

const MIN = 60_000
const WINDOW = 30 * MIN
const D = 20_000 // a day number
const at = (day: number, minutes: number) => day * DAY_MS + minutes * MIN
let n = 0
const span = (userId: string, sessionId: string, start: number, end: number): ActivityRecord => ({ id: `a${String(n++).padStart(4, '0')}`, userId, sessionId, start, end, edits: 0 })

describe('analytics: derived figures', () => {
  it('a hand-off is a session arriving while another session of the user was active within the window', () => {
    const activity = [
      span('u', 'laptop', at(D, 60), at(D, 120)),
      // 10 min after the laptop closed: a hand-off.
      span('u', 'phone', at(D, 130), at(D, 140)),
      // The phone again, 5 min later: still its own activity, no new arrival.
      span('u', 'phone', at(D, 145), at(D, 150)),
      // The laptop back 31 min after its own last socket, 1 min after the phone: a hand-off back.
      span('u', 'laptop', at(D, 151), at(D, 160)),
      // A third device 2 hours later, nothing within the window: no hand-off.
      span('u', 'tablet', at(D, 400), at(D, 410)),
      // Another user's devices never hand off to this user.
      span('v', 'v-phone', at(D, 405), at(D, 406)),
      // Two sockets of one session opening together are one arrival; a second session opening at the same moment hands off.
      span('w', 'w1', at(D, 500), at(D, 510)),
      span('w', 'w1', at(D, 500), at(D, 510)),
      span('w', 'w2', at(D, 500), at(D, 501))
    ]
    expect(handoffTimes(activity, WINDOW).sort((a, b) => a - b)).toEqual([at(D, 130), at(D, 151), at(D, 500)])
    // Exactly at the window's edge still counts; one ms past it does not.
    expect(handoffTimes([span('x', 'a', 0, at(D, 0)), span('x', 'b', at(D, 30), at(D, 31))], WINDOW)).toEqual([at(D, 30)])
    expect(handoffTimes([span('x', 'a', 0, at(D, 0)), span('x', 'b', at(D, 30) + 1, at(D, 31))], WINDOW)).toEqual([])
  })

  it('active users per day, 7 and 30 days; active sessions; hand-offs of the day only', () => {
    const activity = [
      span('a', 'a1', at(D, 10), at(D, 20)),
      span('a', 'a2', at(D, 25), at(D, 30)), // hand-off on day D
      span('b', 'b1', at(D - 3, 10), at(D - 3, 20)),
      span('c', 'c1', at(D - 20, 10), at(D - 20, 20)),
      span('d', 'd1', at(D - 40, 10), at(D - 40, 20)),
      // Open across midnight into day D: active on both days.
      span('e', 'e1', at(D - 1, 23 * 60), at(D, 5))
    ]
    expect(deriveDay(D, activity, WINDOW)).toEqual({ active_users: 2, active_users_7d: 3, active_users_30d: 4, active_sessions: 3, handoffs: 1 })
    expect(deriveDay(D - 1, activity, WINDOW)).toEqual({ active_users: 1, active_users_7d: 2, active_users_30d: 3, active_sessions: 1, handoffs: 0 })
  })

  it('days and platforms', () => {
    expect(isoDay(dayOf(Date.parse('2026-12-07T23:59:59Z')))).toBe('2026-12-07')
    expect(parseIsoDay('2026-12-07')).toBe(dayOf(Date.parse('2026-12-07T00:00:00Z')))
    for (const bad of ['2026-02-30', '2026-1-1', 'today', '2026-12-07T00:00']) expect(parseIsoDay(bad)).toBeUndefined()
    expect(platformOf(' Web ')).toBe('web')
    expect(platformOf('toaster')).toBe('other')
  })
})
