import { Samples, Tally } from './stats.js'

/** Counters shared by every simulated device of one run. */
export class RunStats {
  readonly latency = new Samples()
  readonly errors = new Tally()
  readonly closes = new Tally()
  editsSent = 0
  delivered = 0
  reconnects = 0
  refreshes = 0
  /** Sync step 2 messages received (one per connect or resync) and their payload bytes: what catching up cost. */
  syncStep2 = 0
  syncStep2Bytes = 0
  logins = 0
}
