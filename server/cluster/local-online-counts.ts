import type { SessionSockets } from '../sync/session-sockets.js'
import type { OnlineCounts } from './online-counts.js'

/** This node's sockets are all there are. */
export class LocalOnlineCounts implements OnlineCounts {
  constructor (private readonly sockets: SessionSockets) {}
  async count (sessionId: string): Promise<number> { return this.sockets.count(sessionId) }
  async close (): Promise<void> {}
}
