import type { WebSocket, WebSocketServer } from 'ws'

/**
 * Dead-peer detection. A phone that loses its network mid-session leaves a half-open TCP connection:
 * no FIN ever arrives, so the socket, its place in the room and its send buffer would stay forever.
 * Each round pings every socket; one that has not answered the previous round's ping is terminated,
 * so a dead peer goes within two intervals. Clients do not need to cooperate: every WebSocket client
 * answers pings (RFC 6455 §5.5.2), browsers included.
 *
 * One timer and one Set for the whole server; the pong listener is a single shared function (`this`
 * is the socket), so an idle socket costs nothing extra here.
 */
export interface Liveness {
  /** Start watching a socket (call once, when it is accepted). */
  watch (ws: WebSocket): void
  stop (): void
}

export const startLiveness = (wss: WebSocketServer, intervalMs: number, onDead: (ws: WebSocket) => void): Liveness => {
  /** Sockets pinged in the last round that have not answered yet. */
  let awaiting = new Set<WebSocket>()
  function onPong (this: WebSocket) { awaiting.delete(this) }
  const round = () => {
    const next = new Set<WebSocket>()
    for (const ws of wss.clients) {
      if (ws.readyState !== ws.OPEN) continue
      if (awaiting.has(ws)) {
        onDead(ws)
        ws.terminate()
        continue
      }
      next.add(ws)
      ws.ping()
    }
    // Rebuilt each round, so sockets that closed in between are not kept.
    awaiting = next
  }
  const timer = intervalMs > 0 ? setInterval(round, intervalMs) : null
  timer?.unref()
  return {
    watch: (ws) => { if (timer) ws.on('pong', onPong) },
    stop: () => { if (timer) clearInterval(timer); awaiting.clear() }
  }
}
