import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import type { SyncSocket } from './sync-socket.js'

/**
 * Dead-peer detection. A phone that loses its network mid-session leaves a half-open TCP connection:
 * no FIN ever arrives, so the socket, its place in the room and its send buffer would stay forever.
 * Each round pings every socket; one that has not answered the previous round's ping is terminated,
 * so a dead peer goes within two intervals. Clients do not need to cooperate: every WebSocket client
 * answers pings (RFC 6455 §5.5.2), browsers included.
 *
 * A round's pings carry a fresh random payload, and only a pong echoing it counts as an answer: a peer
 * that never reads its socket cannot know it, so pongs it sends on its own do not keep it alive.
 *
 * One timer for the whole server; what a socket owes is a flag on it (`awaitingPong`). The round runs
 * from setImmediate, after the event loop has read the sockets: a pong that arrived while the server
 * was busy is counted before the round judges.
 */
export interface Liveness {
  /** Whether a pong's payload answers this round's ping. */
  answers (payload: Buffer): boolean
  stop (): void
}

const NONCE_BYTES = 8

export const startLiveness = (sockets: Iterable<SyncSocket>, intervalMs: number, onDead: (ws: SyncSocket) => void): Liveness => {
  let nonce = randomBytes(NONCE_BYTES)
  const round = () => {
    nonce = randomBytes(NONCE_BYTES)
    for (const ws of sockets) {
      if (ws.readyState !== WebSocket.OPEN) continue
      if (ws.awaitingPong) {
        onDead(ws)
        ws.terminate()
        continue
      }
      ws.awaitingPong = true
      ws.ping(nonce)
    }
  }
  const timer = intervalMs > 0 ? setInterval(() => setImmediate(round), intervalMs) : null
  timer?.unref()
  return {
    answers: payload => payload.equals(nonce),
    stop: () => { if (timer) clearInterval(timer) }
  }
}
