/**
 * Work deferred to the end of the current event-loop turn, in a fixed order: first every room applies
 * the updates it queued this turn (one Yjs transaction per room), then every socket writes the frames it
 * queued (one socket write each, ws-frames.ts). Under load the server reads many frames per turn: a
 * Yjs transaction costs several Maps and a cleanup pass, whatever its size (most of the server's
 * allocation at 10k edits/s), and a syscall per frame was a third of the busy time.
 */
/** `runAtTurnEnd` must not throw: it runs from setImmediate, where a throw ends the process. */
export interface Deferred { runAtTurnEnd (): void }

const rooms = new Set<Deferred>()
const sockets = new Set<Deferred>()
let scheduled = false

const run = () => {
  scheduled = false
  // Rooms first: what they broadcast joins the sockets' queues of this same turn.
  for (const r of rooms) { rooms.delete(r); r.runAtTurnEnd() }
  for (const s of sockets) { sockets.delete(s); s.runAtTurnEnd() }
}

const schedule = () => { if (!scheduled) { scheduled = true; setImmediate(run) } }

export const deferRoom = (r: Deferred) => { rooms.add(r); schedule() }
export const deferSocket = (s: Deferred) => { sockets.add(s); schedule() }
export const cancelRoom = (r: Deferred) => { rooms.delete(r) }
export const cancelSocket = (s: Deferred) => { sockets.delete(s) }
