import { afterEach, describe, expect, it } from 'vitest'
import { ExpiryClock, NOT_SCHEDULED, type Expiring } from '../../server/sync/expiry-clock.js'
import { waitFor } from '../helpers/server.js'

/** A member that records when it was told, and may reschedule itself once. */
class Member implements Expiring {
  firedAt: number[] = []
  expiryBucket = NOT_SCHEDULED
  constructor (readonly name: string, private readonly onFire?: (m: Member) => void) {}
  onExpiry () { this.firedAt.push(Date.now()); this.onFire?.(this) }
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
/** Wait until `cond` holds (timers on a busy machine run late); fails the test after 20 s. */
const until = (cond: () => boolean) => waitFor(cond, 20_000, 'the clock')

describe('ExpiryClock: credential expiry for every socket on one timer', () => {
  const clocks: Array<ExpiryClock<Member>> = []
  const clock = () => { const c = new ExpiryClock<Member>(); clocks.push(c); return c }
  afterEach(() => { clocks.splice(0).forEach(c => c.stop()) })

  it('tells each member once, never before its deadline and within a second after it, in deadline order', async () => {
    const c = clock()
    const t0 = Date.now()
    const order: string[] = []
    // Buckets are whole granules since the clock's creation, a few ms before t0: m4 (already past) is
    // in bucket 0, m1 and m3 in bucket 1, m2 in 2, m0 in 3, whatever those few ms are. (A deadline of
    // t0 + 0 shared bucket 1 with m1 as soon as one ms had passed, and then came after it.)
    const members = [2200, 300, 1200, 310, -800].map((d, i) => {
      const m = new Member(`m${i}`, x => order.push(x.name))
      c.schedule(m, t0 + d)
      return { m, at: t0 + d }
    })
    expect(c.size).toBe(5)
    await until(() => c.size === 0)
    for (const { m, at } of members) {
      expect(m.firedAt).toHaveLength(1)
      expect(m.firedAt[0]).toBeGreaterThanOrEqual(at)
      expect(m.firedAt[0]! - at).toBeLessThan(1000 + 5000) // a second's granularity, plus a loaded machine's timer lag
    }
    // Deadlines in different seconds come in order; within one second, in any order.
    expect(order.indexOf('m4')).toBeLessThan(order.indexOf('m1'))
    expect(order.indexOf('m1')).toBeLessThan(order.indexOf('m2'))
    expect(order.indexOf('m2')).toBeLessThan(order.indexOf('m0'))
    expect(c.size).toBe(0)
  })

  it('a cancelled member is never told; rescheduling replaces the earlier deadline', async () => {
    const c = clock()
    const t0 = Date.now()
    const cancelled = new Member('cancelled')
    const moved = new Member('moved')
    c.schedule(cancelled, t0 + 200)
    c.schedule(moved, t0 + 200)
    c.cancel(cancelled)
    c.cancel(cancelled) // twice is harmless
    c.schedule(moved, t0 + 1600)
    expect(c.size).toBe(1)
    await until(() => moved.firedAt.length > 0)
    // Nothing is left to tell: the cancelled member (due long before) was not told, and never will be.
    expect(c.size).toBe(0)
    expect(cancelled.firedAt).toHaveLength(0)
    expect(moved.firedAt).toHaveLength(1)
    expect(moved.firedAt[0]).toBeGreaterThanOrEqual(t0 + 1600)
  })

  it('a member may reschedule itself from its callback (a renewed token), and an earlier deadline re-arms the timer', async () => {
    const c = clock()
    const t0 = Date.now()
    let renewals = 0
    const renewing = new Member('renewing', m => { if (renewals++ === 0) c.schedule(m, Date.now() + 500) })
    const late = new Member('late')
    c.schedule(late, t0 + 60_000) // the timer is armed for a minute from now…
    c.schedule(renewing, t0 + 100) // …and must be re-armed for this one
    await until(() => renewing.firedAt.length >= 2)
    expect(renewing.firedAt).toHaveLength(2)
    expect(renewing.firedAt[1]! - renewing.firedAt[0]!).toBeGreaterThanOrEqual(500)
    expect(late.firedAt).toHaveLength(0)
    expect(c.size).toBe(1)
  })

  it('keeps its count right when a member is cancelled after it fired, and stop() leaves members free for another clock', async () => {
    const c = clock()
    const fired = new Member('fired')
    const waiting = new Member('waiting')
    c.schedule(fired, Date.now())
    c.schedule(waiting, Date.now() + 60_000)
    await until(() => fired.firedAt.length > 0)
    expect(fired.expiryBucket).toBe(NOT_SCHEDULED)
    c.cancel(fired) // already told: nothing to cancel
    expect(c.size).toBe(1)
    c.stop()
    expect(c.size).toBe(0)
    expect(waiting.expiryBucket).toBe(NOT_SCHEDULED)
    const next = clock()
    next.schedule(waiting, Date.now())
    await until(() => waiting.firedAt.length > 0)
    expect(waiting.firedAt).toHaveLength(1)
    expect(next.size).toBe(0)
  })

  it('a deadline past setTimeout\'s 2^31 ms range waits instead of firing at once', async () => {
    const c = clock()
    const far = new Member('far')
    c.schedule(far, Date.now() + 40 * 24 * 3600 * 1000)
    // No event to wait for: an overflowing setTimeout fires after 1 ms, well inside this.
    await sleep(50)
    expect(far.firedAt).toHaveLength(0)
    expect(c.size).toBe(1)
  })

  it('many buckets, churned by cancels and reschedules: each live member told once, at or after its last deadline, cancelled ones never', async () => {
    const c = new ExpiryClock<Member>(5) // 5 ms granules: hundreds of buckets
    clocks.push(c)
    let seed = 7
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    const t0 = Date.now()
    const members = Array.from({ length: 400 }, (_, i) => ({ m: new Member(`m${i}`), at: 0, live: true }))
    for (const x of members) { x.at = t0 + 50 + Math.floor(rand() * 1500); c.schedule(x.m, x.at) }
    // Rounds of churn: most keys in the clock's heap then belong to buckets that emptied (it gets rebuilt).
    for (let round = 0; round < 10; round++) {
      for (const x of members) {
        const r = rand()
        if (r < 0.3) { x.at = t0 + 50 + Math.floor(rand() * 1500); c.schedule(x.m, x.at); x.live = true } else if (r < 0.4) { c.cancel(x.m); x.live = false }
      }
    }
    expect(c.size).toBe(members.filter(x => x.live).length)
    await until(() => c.size === 0) // nothing left to tell: every firing has happened
    for (const x of members) {
      if (!x.live) { expect(x.m.firedAt).toHaveLength(0); continue }
      expect(x.m.firedAt).toHaveLength(1)
      expect(x.m.firedAt[0]).toBeGreaterThanOrEqual(x.at)
    }
  })
})
