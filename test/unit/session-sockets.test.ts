import { describe, expect, it } from 'vitest'
import { SessionSockets } from '../../server/sync/session-sockets.js'
import type { Connection } from '../../server/sync/connection.js'

/** What SessionSockets reads of a socket: its session, and close(). */
const conn = (sessionId: string | undefined) => {
  const c = { principal: { userId: 'u', sessionId, access: 'write' }, closedWith: [] as number[], close (code: number) { c.closedWith.push(code) } }
  return c as typeof c & Connection
}

describe('SessionSockets: live sockets by device session', () => {
  it('counts, closes and reports offline whether a session has one socket or several, as they come and go', () => {
    const s = new SessionSockets()
    const offline: string[] = []
    s.onSessionOffline = sid => offline.push(sid)
    const [a1, a2, a3, b1] = [conn('a'), conn('a'), conn('a'), conn('b')]
    s.add(a1)
    s.add(a1) // twice is harmless
    expect(s.count('a')).toBe(1)
    s.add(a2); s.add(a3); s.add(b1)
    expect([s.count('a'), s.count('b'), s.count('c')]).toEqual([3, 1, 0])
    s.remove(a2)
    expect(s.count('a')).toBe(2)
    s.remove(conn('a')) // a socket it never held: nothing changes
    s.remove(conn('b'))
    expect([s.count('a'), s.count('b')]).toEqual([2, 1])
    expect(offline).toEqual([])

    s.remove(b1)
    expect(offline).toEqual(['b'])
    expect(s.count('b')).toBe(0)

    expect(s.close('a', 4403, 'ended')).toBe(2)
    expect([a1.closedWith, a2.closedWith, a3.closedWith]).toEqual([[4403], [], [4403]])
    expect(offline).toEqual(['b', 'a'])
    expect(s.close('a', 4403, 'again')).toBe(0)

    const single = conn('c')
    s.add(single)
    expect(s.close('c', 4403, 'ended')).toBe(1)
    expect(single.closedWith).toEqual([4403])
    expect(offline).toEqual(['b', 'a', 'c'])
  })

  it('a socket accepted before its document loaded hands its place to its connection without the session going offline', () => {
    const s = new SessionSockets()
    const offline: string[] = []
    s.onSessionOffline = sid => offline.push(sid)
    const [pending, attached] = [conn('a'), conn('a')]
    s.add(pending)
    s.replace(pending, attached)
    expect(s.count('a')).toBe(1)
    expect(offline).toEqual([])
    expect(s.close('a', 4403, 'ended')).toBe(1)
    expect([pending.closedWith, attached.closedWith]).toEqual([[], [4403]])

    const [p2, other, c2] = [conn('b'), conn('b'), conn('b')]
    s.add(p2); s.add(other)
    s.replace(p2, c2)
    expect(s.count('b')).toBe(2)
    s.remove(p2) // no longer held
    expect(s.count('b')).toBe(2)
    s.remove(other); s.remove(c2)
    expect(offline).toEqual(['a', 'b'])

    // Closed while pending (its session ended during the load): nothing takes its place.
    const p3 = conn('c')
    s.add(p3)
    expect(s.close('c', 4403, 'ended')).toBe(1)
    s.replace(p3, conn('c'))
    expect(s.count('c')).toBe(0)
  })

  it('ignores sockets without a device session (no identity)', () => {
    const s = new SessionSockets()
    const anon = conn(undefined)
    s.add(anon)
    s.remove(anon)
    expect(s.count('undefined')).toBe(0)
  })
})
