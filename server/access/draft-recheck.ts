import { CloseCode } from '../../shared/protocol.js'
import type { Rooms } from '../sync/rooms.js'
import type { Drafts } from './drafts.js'

const PREFIX = 'draft:'

/**
 * Re-reads the access of every socket on a draft loaded on this node: for when draft access events
 * may have been missed. A deleted draft is purged (4409); a socket whose user lost access, or write
 * access, is closed (4409). One document, and one user per document, at a time. How many sockets
 * closed.
 */
export const recheckDraftAccess = async (rooms: Rooms, drafts: Drafts): Promise<number> => {
  let closed = 0
  for (const room of await rooms.loaded()) {
    if (!room.name.startsWith(PREFIX)) continue
    const id = room.name.slice(PREFIX.length)
    if (!await drafts.exists(id)) {
      closed += room.connections.size
      await rooms.purge(room.name, CloseCode.accessChanged, 'document deleted')
      continue
    }
    const access = new Map<string, 'read' | 'write' | undefined>()
    for (const conn of [...room.connections]) {
      const { userId } = conn.principal
      if (!access.has(userId)) access.set(userId, await drafts.accessTo(id, userId))
      const now = access.get(userId)
      if (now === undefined || (now === 'read' && conn.principal.access === 'write')) {
        conn.close(CloseCode.accessChanged, 'document access changed')
        closed++
      }
    }
  }
  return closed
}
