import type { Logger } from '../observe/logger.js'
import type { Identity } from './identity.js'

/** Sessions remembered at most; past it, entries older than the throttle window are dropped (then all). */
const MAX_TRACKED = 50_000

/**
 * Counts accepted edits as user activity of their device session, for idle expiry. The edit path is
 * hot: a session is written at most once per `everyMs` (one Map lookup per edit otherwise), so its
 * idle deadline may lag its last edit by up to that much.
 */
export class ActivityTracker {
  private readonly noted = new Map<string, number>()

  constructor (private readonly identity: Identity, readonly everyMs: number, private readonly logger: Logger) {}

  /** An edit (or other activity) of `sessionId` now. */
  readonly note = (sessionId: string): void => {
    const now = Date.now()
    const last = this.noted.get(sessionId)
    if (last !== undefined && now - last < this.everyMs) return
    if (last === undefined && this.noted.size >= MAX_TRACKED) this.prune(now)
    this.noted.set(sessionId, now)
    this.identity.recordActivity(sessionId, now).catch((err: Error) =>
      this.logger.warn({ err: err.message, session: sessionId }, 'could not record session activity'))
  }

  /** The session's last socket closed: its next edit is written at once. */
  forget (sessionId: string): void { this.noted.delete(sessionId) }

  private prune (now: number): void {
    for (const [sid, at] of this.noted) if (now - at >= this.everyMs) this.noted.delete(sid)
    if (this.noted.size >= MAX_TRACKED) this.noted.clear()
  }
}

/** Activity is written at most this often per session: a tenth of the idle timeout, 30 s at most. */
export const activityThrottleMs = (idleTimeoutMs: number): number => Math.min(30_000, Math.floor(idleTimeoutMs / 10))
