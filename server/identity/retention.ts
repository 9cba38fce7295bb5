import type { Logger } from '../observe/logger.js'
import type { SessionStore } from '../storage/session-store.js'

const DAY_MS = 24 * 60 * 60 * 1000
/** The sweep runs this often (and once shortly after start). */
const SWEEP_EVERY_MS = 60 * 60 * 1000
const FIRST_SWEEP_MS = 60 * 1000
/** Records per store call, and calls per kind per sweep: a huge backlog is worked off over several sweeps. */
const PAGE = 500
const MAX_PAGES = 200

/**
 * Retention (`--retention-days`, default 90): security events older than the period are deleted, and
 * device sessions last seen before it lose their IP address (`lastIp` emptied; the session itself
 * stays, live or ended). Runs hourly; `sweep(now)` runs it at once.
 */
export class RetentionSweep {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<unknown> | null = null

  constructor (private readonly store: SessionStore, private readonly retentionDays: number, private readonly logger: Logger) {}

  start (): void {
    if (this.retentionDays <= 0 || this.timer) return
    const tick = () => {
      this.running ??= this.sweep().catch((err: Error) => this.logger.error({ err: err.message }, 'retention sweep failed')).finally(() => { this.running = null })
      this.timer = setTimeout(tick, SWEEP_EVERY_MS).unref()
    }
    this.timer = setTimeout(tick, FIRST_SWEEP_MS).unref()
  }

  async stop (): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }

  /** Deletes and scrubs what is older than the retention period at `now`; how much of each. */
  async sweep (now = Date.now()): Promise<{ events: number, addresses: number }> {
    const cutoff = now - this.retentionDays * DAY_MS
    let events = 0
    for (let i = 0; i < MAX_PAGES; i++) {
      const n = await this.store.deleteSecurityEventsBefore(cutoff, PAGE)
      events += n
      if (n < PAGE) break
    }
    let addresses = 0
    for (let i = 0; i < MAX_PAGES; i++) {
      const page = await this.store.sessionsSeenBefore(cutoff, PAGE)
      for (const s of page) {
        // Re-checked on the record as stored: a session seen again meanwhile keeps its new address.
        const stored = await this.store.updateSession(s.id, cur => {
          if (cur.lastSeenAt >= cutoff || cur.lastIp === '') return false
          cur.lastIp = ''
          return true
        })
        if (stored?.lastIp === '') addresses++
      }
      if (page.length < PAGE) break
    }
    if (events + addresses > 0) this.logger.info({ events, addresses, retentionDays: this.retentionDays }, 'retention sweep removed old security events and addresses')
    return { events, addresses }
  }
}
