/**
 * Work deferred to the end of the current event-loop turn, in a fixed order: first every socket hands
 * the frames of the turn to the kernel (a corked TCP socket uncorked: one write each, connection.ts;
 * under load the server reads many frames per turn, and a write per frame costs a system call each),
 * then every room whose log came due compacts (room.ts), within a time budget per turn. Writing first
 * means no delivery waits for a compaction.
 */
/** `runAtTurnEnd` must not throw: it runs from setImmediate, where a throw ends the process. */
export interface Deferred { runAtTurnEnd (): void }

/**
 * Compaction time per turn. A compaction rebuilds its document (a few ms for a few thousand keys, more
 * for big documents); past this budget the remaining rooms wait for the next turn, so that the sockets
 * are read and written in between instead of waiting for every room that came due at once.
 */
const ROOM_BUDGET_MS = 4

const rooms = new Set<Deferred>()
const sockets = new Set<Deferred>()
let scheduled = false

const run = () => {
  scheduled = false
  for (const s of sockets) { sockets.delete(s); s.runAtTurnEnd() }
  // Rooms send nothing when they compact.
  const start = performance.now()
  for (const r of rooms) {
    rooms.delete(r)
    r.runAtTurnEnd()
    if (performance.now() - start >= ROOM_BUDGET_MS) break
  }
  if (rooms.size > 0) schedule()
}

const schedule = () => { if (!scheduled) { scheduled = true; setImmediate(run) } }

export const deferRoom = (r: Deferred) => { rooms.add(r); schedule() }
export const deferSocket = (s: Deferred) => { sockets.add(s); schedule() }
export const cancelRoom = (r: Deferred) => { rooms.delete(r) }
export const cancelSocket = (s: Deferred) => { sockets.delete(s) }
