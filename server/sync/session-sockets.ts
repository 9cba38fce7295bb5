import type { CloseCodeValue } from '../../shared/protocol.js'

/** What SessionSockets needs of a socket: the device session it belongs to, and a way to close it. */
export interface SessionMember {
  readonly principal: { readonly sessionId?: string }
  close (code: CloseCodeValue, reason: string): void
}

/**
 * Live sockets by device session, so that ending a session closes all of its sockets at once and
 * the dashboard can show which devices are online. A socket is a member from its acceptance on
 * (transport/sync-socket.ts: PendingSocket), not only once its document has loaded.
 *
 * A session holds its one socket directly and a Set only from its second: a device usually has one
 * socket open (its session document), and a Set per session costs ~150 bytes.
 */
export class SessionSockets {
  private bySession = new Map<string, SessionMember | Set<SessionMember>>()
  /** Told when a session has no live socket left (its last one closed, or all were closed). */
  onSessionOffline: (sessionId: string) => void = () => {}
  /** Told whenever the number of a session's sockets changes (cluster-wide online counts). */
  onCountChanged: (sessionId: string, count: number) => void = () => {}

  add (member: SessionMember): void {
    const sid = member.principal.sessionId
    if (!sid) return
    const held = this.bySession.get(sid)
    const before = this.count(sid)
    if (held === undefined) this.bySession.set(sid, member)
    else if (held instanceof Set) held.add(member)
    else if (held !== member) this.bySession.set(sid, new Set([held, member]))
    const after = this.count(sid)
    if (after !== before) this.onCountChanged(sid, after)
  }

  /** Put `next` in the place of `previous` (same session), without the session going offline in between. */
  replace (previous: SessionMember, next: SessionMember): void {
    const sid = previous.principal.sessionId
    const held = sid ? this.bySession.get(sid) : undefined
    if (held === previous) this.bySession.set(sid!, next)
    else if (held instanceof Set && held.delete(previous)) held.add(next)
  }

  remove (member: SessionMember): void {
    const sid = member.principal.sessionId
    const held = sid ? this.bySession.get(sid) : undefined
    if (held === undefined) return
    if (held instanceof Set) {
      if (!held.delete(member)) return
      if (held.size > 0) { this.onCountChanged(sid!, held.size); return }
    } else if (held !== member) return
    this.bySession.delete(sid!)
    this.onCountChanged(sid!, 0)
    this.onSessionOffline(sid!)
  }

  /** The sessions with at least one live socket here, with their socket counts. */
  * entries (): IterableIterator<[string, number]> {
    for (const [sid, held] of this.bySession) yield [sid, held instanceof Set ? held.size : 1]
  }

  count (sessionId: string): number {
    const held = this.bySession.get(sessionId)
    return held === undefined ? 0 : held instanceof Set ? held.size : 1
  }

  /** Close every socket of a session; returns how many were closed. */
  close (sessionId: string, code: CloseCodeValue, reason: string): number {
    const held = this.bySession.get(sessionId)
    if (held === undefined) return 0
    const members = held instanceof Set ? [...held] : [held]
    for (const m of members) m.close(code, reason)
    this.bySession.delete(sessionId)
    this.onCountChanged(sessionId, 0)
    this.onSessionOffline(sessionId)
    return members.length
  }
}
