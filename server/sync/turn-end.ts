/**
 * Work deferred to the end of the current event-loop turn, in a fixed order: first every socket writes
 * the frames it queued (one socket write each, ws-frames.ts), then every room applies the updates it
 * checked and broadcast this turn (one Yjs transaction per room). Under load the server reads many
 * frames per turn: a Yjs transaction costs several Maps and a cleanup pass, whatever its size (most of
 * the server's allocation at 10k edits/s), and a syscall per frame was a third of the busy time.
 * Writing first means no delivery waits for the turn's Yjs work (p99 at 10k edits/s: see README).
 */
/** `runAtTurnEnd` must not throw: it runs from setImmediate, where a throw ends the process. */
export interface Deferred { runAtTurnEnd (): void }

const rooms = new Set<Deferred>()
const sockets = new Set<Deferred>()
let scheduled = false

const run = () => {
  scheduled = false
  for (const s of sockets) { sockets.delete(s); s.runAtTurnEnd() }
  // Rooms send nothing when they apply: their updates were broadcast when they arrived.
  for (const r of rooms) { rooms.delete(r); r.runAtTurnEnd() }
}

const schedule = () => { if (!scheduled) { scheduled = true; setImmediate(run) } }

export const deferRoom = (r: Deferred) => { rooms.add(r); schedule() }
export const deferSocket = (s: Deferred) => { sockets.add(s); schedule() }
export const cancelRoom = (r: Deferred) => { rooms.delete(r) }
export const cancelSocket = (s: Deferred) => { sockets.delete(s) }
