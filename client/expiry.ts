/**
 * Expiry warnings: knows the session's deadlines (GET /me/session, and the answer of every activity
 * report) and warns `warningMs` before the first of them. Edits move the idle deadline on the server
 * without the SDK hearing of it, so the deadlines are read again when a warning comes due, and a
 * warning is emitted only if the deadline still stands. At the deadline they are read once more: an
 * ended session answers `session_ended` with its reason, which ends it here too.
 */
import type { SessionDeadlinesResponse } from '../shared/api.js'
import { unrefTimer } from './backoff.js'
import { SessionEndedError } from './errors.js'

export interface ExpiryWarning {
  /** Which deadline comes first: inactivity (`idle`, moved by activity) or the session's maximum lifetime (`absolute`). */
  kind: 'idle' | 'absolute'
  /** When the session ends (server time, ms). */
  expiresAt: number
  /** How long from now (local clock). */
  inMs: number
}

/** After a failed read (offline, server error), deadlines are read again this long after. */
const RETRY_MS = 30_000
const MAX_DELAY_MS = 2 ** 31 - 1

export class ExpiryWatch {
  private deadlines: SessionDeadlinesResponse | null = null
  private timer: ReturnType<typeof setTimeout> | null = null
  private warned = ''
  private checking = false
  private stopped = false

  constructor (
    private readonly read: () => Promise<SessionDeadlinesResponse>,
    private readonly skewMs: () => number,
    private readonly warningMs: number,
    private readonly onWarning: (w: ExpiryWarning) => void
  ) {}

  get current (): SessionDeadlinesResponse | null { return this.deadlines }

  /** New deadlines from the server. */
  set (d: SessionDeadlinesResponse): void {
    if (this.stopped) return
    this.deadlines = d
    this.plan()
  }

  /** Read the deadlines now (after sign-in, on resume). */
  refresh (): void { void this.check() }

  stop (): void {
    this.stopped = true
    this.deadlines = null
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  /** Start again (a new sign-in). */
  restart (): void {
    this.stopped = false
    this.warned = ''
    this.refresh()
  }

  private next (): ExpiryWarning | null {
    const d = this.deadlines
    if (!d) return null
    const kind = d.idleExpiresAt < d.absoluteExpiresAt ? 'idle' : 'absolute'
    const expiresAt = Math.min(d.idleExpiresAt, d.absoluteExpiresAt)
    return { kind, expiresAt, inMs: expiresAt - this.skewMs() - Date.now() }
  }

  /** Called with deadlines just read: a warning that is due is emitted now, once per deadline. */
  private plan (): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const w = this.next()
    if (!w || this.stopped) return
    const key = `${w.kind}:${w.expiresAt}`
    // Past it: the next read ends the session (clocks differ by up to a second or two).
    if (w.inMs <= 0) { this.after(1000); return }
    if (w.inMs <= this.warningMs && this.warned !== key) {
      this.warned = key
      this.onWarning({ ...w, inMs: Math.max(0, w.inMs) })
    }
    this.after(this.warned === key ? w.inMs : w.inMs - this.warningMs)
  }

  private after (ms: number): void {
    this.timer = unrefTimer(setTimeout(() => { this.timer = null; void this.check() }, Math.min(Math.max(0, ms), MAX_DELAY_MS)))
  }

  private async check (): Promise<void> {
    if (this.checking || this.stopped) return
    this.checking = true
    try {
      this.set(await this.read())
    } catch (err) {
      // An ended session ends the client through the API's error handling; nothing to plan then.
      if (err instanceof SessionEndedError) { this.stop(); return }
      if (!this.stopped) this.after(RETRY_MS)
    } finally {
      this.checking = false
    }
  }
}
