import type { Connection } from './connection.js'
import type { CloseCodeValue } from '../../shared/protocol.js'

/**
 * Live sockets by device session, so that ending a session closes all of its sockets at once and
 * the dashboard can show which devices are online.
 */
export class SessionSockets {
  private bySession = new Map<string, Set<Connection>>()
  /** Told when a session has no live socket left (its last one closed, or all were closed). */
  onSessionOffline: (sessionId: string) => void = () => {}

  add (conn: Connection): void {
    const sid = conn.principal.sessionId
    if (!sid) return
    let set = this.bySession.get(sid)
    if (!set) this.bySession.set(sid, (set = new Set()))
    set.add(conn)
  }

  remove (conn: Connection): void {
    const sid = conn.principal.sessionId
    const set = sid ? this.bySession.get(sid) : undefined
    if (!set) return
    set.delete(conn)
    if (set.size === 0) {
      this.bySession.delete(sid!)
      this.onSessionOffline(sid!)
    }
  }

  count (sessionId: string): number {
    return this.bySession.get(sessionId)?.size ?? 0
  }

  /** Close every socket of a session; returns how many were closed. */
  close (sessionId: string, code: CloseCodeValue, reason: string): number {
    const set = this.bySession.get(sessionId)
    if (!set) return 0
    const n = set.size
    for (const conn of [...set]) conn.close(code, reason)
    this.bySession.delete(sessionId)
    this.onSessionOffline(sessionId)
    return n
  }
}
