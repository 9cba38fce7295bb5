import type { SessionSockets } from '../sync/session-sockets.js'
import type { Identity } from './identity.js'
import { sessionDeadline } from './expiry-policy.js'
import type { SessionRecord } from './session-store.js'

/**
 * Ends device sessions that pass their idle or absolute deadline while they have live sockets, so
 * their sockets close (4403) within one tick of the deadline. Sessions without sockets need no timer:
 * they are checked whenever they are used next.
 */
export class ExpirySweeper {
  private deadlines = new Map<string, number>()
  private timer: NodeJS.Timeout

  constructor (private readonly identity: Identity, private readonly sockets: SessionSockets, tickMs = 250) {
    this.timer = setInterval(() => { void this.tick() }, tickMs)
    this.timer.unref()
  }

  /** Called whenever a session is seen live (socket upgrade, in-band reauth). */
  watch (s: SessionRecord): void { this.deadlines.set(s.id, sessionDeadline(s)) }

  private async tick (): Promise<void> {
    const now = Date.now()
    for (const [sid, deadline] of this.deadlines) {
      if (this.sockets.count(sid) === 0) { this.deadlines.delete(sid); continue }
      if (now < deadline) continue
      // The deadline may have moved (the device refreshed): re-read before ending anything.
      const live = await this.identity.liveSession(sid).catch(() => undefined)
      if (live) this.deadlines.set(sid, sessionDeadline(live))
      else this.deadlines.delete(sid) // liveSession ended it and closed its sockets
    }
  }

  stop (): void { clearInterval(this.timer) }
}
