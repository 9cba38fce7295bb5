import type { SessionEndedEvent } from '../cluster/session-event-bus.js'
import type { SessionStore } from '../storage/session-store.js'
import type { SessionSockets } from '../sync/session-sockets.js'
import type { Identity } from './identity.js'
import { endOf } from './session-end.js'

/**
 * Re-reads every session with live sockets on this node from the store and closes the sockets of
 * those that ended (with their stored reason) or have expired: for when session events may have been
 * missed. One session at a time, over the sessions live when it starts.
 */
export const recheckLiveSessions = async (store: SessionStore, identity: Identity, sockets: SessionSockets, closeEnded: (ended: SessionEndedEvent) => void): Promise<number> => {
  let closed = 0
  for (const [sessionId] of [...sockets.entries()]) {
    const s = await store.sessionById(sessionId)
    if (!s || s.endedAt) {
      // A session that is gone went with its account.
      closeEnded(s ? { kind: 'session-ended', sessionId, ...endOf(s) } : { kind: 'session-ended', sessionId, reason: 'account_deleted' })
      closed++
    } else if (await identity.endIfExpired(s)) {
      closed++ // ending it published the event, which closed its sockets
    }
  }
  return closed
}
