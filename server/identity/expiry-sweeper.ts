import { ExpiryClock, NOT_SCHEDULED, type Expiring } from '../sync/expiry-clock.js'
import type { SessionSockets } from '../sync/session-sockets.js'
import type { Identity } from './identity.js'
import { sessionDeadline } from './expiry-policy.js'
import type { SessionRecord } from '../storage/session-store.js'

/** A session's sockets close at most this long after its deadline. */
const GRANULARITY_MS = 250
/** When re-reading a due session fails (storage error), it is tried again after this long. */
const RETRY_MS = 1000

/** One device session with live sockets, waiting for its deadline on the clock. */
class Watched implements Expiring {
  expiryBucket = NOT_SCHEDULED
  constructor (readonly id: string, private readonly sweeper: ExpirySweeper) {}
  onExpiry (): void { this.sweeper.due(this) }
}

/**
 * Ends device sessions that pass their idle or absolute deadline while they have live sockets, so
 * their sockets close (4403) within 250 ms of the deadline. Sessions without sockets need no timer:
 * they are checked whenever they are used next.
 *
 * Deadlines wait on an expiry clock, not a periodic scan: nothing runs until one is due, so idle
 * devices cost no CPU and make no garbage, and V8 can see an idle server and shrink its heap.
 */
export class ExpirySweeper {
  private readonly watched = new Map<string, Watched>()
  private readonly clock = new ExpiryClock<Watched>(GRANULARITY_MS)

  constructor (private readonly identity: Identity, private readonly sockets: SessionSockets) {}

  get size (): number { return this.watched.size }

  /** Called whenever a session is seen live (socket upgrade, in-band reauth): (re)sets its deadline. */
  watch (s: SessionRecord): void {
    let w = this.watched.get(s.id)
    if (!w) this.watched.set(s.id, (w = new Watched(s.id, this)))
    this.clock.schedule(w, sessionDeadline(s, this.identity.policy))
  }

  /** The session's last socket closed: nothing to sweep until it connects again. */
  unwatch (sessionId: string): void {
    const w = this.watched.get(sessionId)
    if (!w) return
    this.clock.cancel(w)
    this.watched.delete(sessionId)
  }

  /** A watched session reached the deadline it was scheduled for. */
  due (w: Watched): void {
    if (this.sockets.count(w.id) === 0) { this.unwatch(w.id); return }
    // The deadline may have moved (the device refreshed): re-read before ending anything.
    this.identity.liveSession(w.id).then(
      live => {
        if (this.watched.get(w.id) !== w) return // unwatched meanwhile
        if (live) this.clock.schedule(w, sessionDeadline(live, this.identity.policy))
        else this.unwatch(w.id) // liveSession ended it and closed its sockets
      },
      () => { if (this.watched.get(w.id) === w) this.clock.schedule(w, Date.now() + RETRY_MS) })
  }

  stop (): void {
    this.clock.stop()
    this.watched.clear()
  }
}
