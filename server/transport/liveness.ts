import type { WireSocket } from './wire-socket.js'

/**
 * Dead-peer detection. A phone that loses its network mid-session leaves a half-open TCP connection:
 * no FIN ever arrives, so the socket, its place in the room and its send buffer would stay forever.
 * Each round pings every socket; one that has not answered the previous round's ping is terminated,
 * so a dead peer goes within two intervals. Clients do not need to cooperate: every WebSocket client
 * answers pings (RFC 6455 §5.5.2), browsers included.
 *
 * One timer for the whole server; what a socket owes is a flag on it (`awaitingPong`), cleared by its
 * pong, so an idle socket costs nothing extra here.
 */
export interface Liveness {
  stop (): void
}

export const startLiveness = (sockets: Iterable<WireSocket>, intervalMs: number, onDead: (ws: WireSocket) => void): Liveness => {
  const round = () => {
    for (const ws of sockets) {
      if (!ws.isOpen) continue
      if (ws.awaitingPong) {
        onDead(ws)
        ws.terminate()
        continue
      }
      ws.awaitingPong = true
      ws.ping()
    }
  }
  const timer = intervalMs > 0 ? setInterval(round, intervalMs) : null
  timer?.unref()
  return {
    stop: () => { if (timer) clearInterval(timer) }
  }
}
