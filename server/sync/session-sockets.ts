import type { Connection } from './connection.js'
import type { CloseCodeValue } from '../../shared/protocol.js'

/**
 * Live sockets by device session, so that ending a session closes all of its sockets at once and
 * the dashboard can show which devices are online.
 *
 * A session holds its one socket directly and a Set only from its second: a device usually has one
 * socket open (its session document), and a Set per session cost ~150 bytes (a Set and its hash
 * table), 0.75 MB with 5000 idle devices.
 */
export class SessionSockets {
  private bySession = new Map<string, Connection | Set<Connection>>()
  /** Told when a session has no live socket left (its last one closed, or all were closed). */
  onSessionOffline: (sessionId: string) => void = () => {}

  add (conn: Connection): void {
    const sid = conn.principal.sessionId
    if (!sid) return
    const held = this.bySession.get(sid)
    if (held === undefined) this.bySession.set(sid, conn)
    else if (held instanceof Set) held.add(conn)
    else if (held !== conn) this.bySession.set(sid, new Set([held, conn]))
  }

  remove (conn: Connection): void {
    const sid = conn.principal.sessionId
    const held = sid ? this.bySession.get(sid) : undefined
    if (held === undefined) return
    if (held instanceof Set) {
      held.delete(conn)
      if (held.size > 0) return
    } else if (held !== conn) return
    this.bySession.delete(sid!)
    this.onSessionOffline(sid!)
  }

  count (sessionId: string): number {
    const held = this.bySession.get(sessionId)
    return held === undefined ? 0 : held instanceof Set ? held.size : 1
  }

  /** Close every socket of a session; returns how many were closed. */
  close (sessionId: string, code: CloseCodeValue, reason: string): number {
    const held = this.bySession.get(sessionId)
    if (held === undefined) return 0
    const conns = held instanceof Set ? [...held] : [held]
    for (const conn of conns) conn.close(code, reason)
    this.bySession.delete(sessionId)
    this.onSessionOffline(sessionId)
    return conns.length
  }
}
