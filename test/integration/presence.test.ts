import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { decodeMessage, encodeAwareness, MessageType } from '../../shared/protocol.js'
import { decodeAwarenessUpdate, encodeAwarenessEntries, type AwarenessEntry } from '../../shared/awareness.js'
import { RawClient } from '../helpers/raw-client.js'
import { serverFixtures, waitFor } from '../helpers/server.js'
import { secondDevice, signedInDevice, startIdentityServer } from '../helpers/identity.js'

/**
 * Presence (awareness) entries belong to the socket that announced their client id first: another
 * socket can neither overwrite nor remove them (server/sync/room.ts receiveAwareness).
 */
const { start, raw, onCleanup } = serverFixtures()

/** A raw client that also keeps the presence it is sent, as a y-protocols Awareness of its own. */
const observe = (c: RawClient) => {
  const awareness = new awarenessProtocol.Awareness(new Y.Doc())
  awareness.setLocalState(null)
  const frames: Uint8Array[] = []
  const removals: number[] = []
  c.ws.on('message', (data: Buffer) => {
    const msg = decodeMessage(data)
    if (msg.type !== MessageType.awareness) return
    frames.push(new Uint8Array(data))
    for (const e of decodeAwarenessUpdate(msg.payload)) if (e.removed) removals.push(e.clientID)
    awarenessProtocol.applyAwarenessUpdate(awareness, msg.payload, 'server')
  })
  onCleanup(() => awareness.destroy())
  return { states: awareness.states, frames, removals }
}

const entry = (clientID: number, clock: number, state: unknown): AwarenessEntry =>
  ({ clientID, clock, state: JSON.stringify(state), removed: state === null })
const frame = (...entries: AwarenessEntry[]) => encodeAwareness(encodeAwarenessEntries(entries))
const A = 1001
const B = 2002

describe('presence ownership', () => {
  it('a socket cannot overwrite or remove another socket\'s entry; the owner still can, and its entries go when it closes', async () => {
    const s = await start()
    const a = raw(`${s.wsUrl}/room`)
    const b = raw(`${s.wsUrl}/room`)
    const w = raw(`${s.wsUrl}/room`)
    const seen = observe(w)
    await waitFor(() => a.synced && b.synced && w.synced)

    const announce = frame(entry(A, 1, { name: 'alice' }))
    a.sendRaw(announce)
    await waitFor(() => seen.states.get(A)?.name === 'alice', 5000, 'A announced')
    expect(seen.frames.at(-1), 'forwarded as it came').toEqual(announce)

    // B overwrites A's entry with a newer clock, then removes it, and sends a mixed update: its own
    // entry with another overwrite of A's. Only B's own entry gets through, re-encoded without A's.
    b.sendRaw(frame(entry(A, 5, { name: 'mallory' })))
    b.sendRaw(frame(entry(A, 6, null)))
    b.sendRaw(frame(entry(B, 1, { name: 'bob' }), entry(A, 7, { name: 'mallory' })))
    await waitFor(() => seen.states.get(B)?.name === 'bob', 5000, 'B announced')
    expect(seen.states.get(A)).toEqual({ name: 'alice' })
    expect(seen.frames.at(-1)).toEqual(frame(entry(B, 1, { name: 'bob' })))
    expect(b.closeCode).toBeNull() // dropped, not an error: stock clients echo their peers' entries

    // What a device joining now is sent: A's state as A set it.
    const late = raw(`${s.wsUrl}/room`)
    const lateSeen = observe(late)
    await waitFor(() => lateSeen.states.size === 2, 5000, 'the joiner to get the presence')
    expect(lateSeen.states.get(A)).toEqual({ name: 'alice' })

    // The owner updates and removes its own entry, and announces it again.
    a.sendRaw(frame(entry(A, 2, { name: 'alice 2' })))
    await waitFor(() => seen.states.get(A)?.name === 'alice 2', 5000, 'A updated')
    a.sendRaw(frame(entry(A, 3, null)))
    await waitFor(() => !seen.states.has(A), 5000, 'A removed')
    a.sendRaw(frame(entry(A, 4, { name: 'alice 3' })))
    await waitFor(() => seen.states.get(A)?.name === 'alice 3', 5000, 'A back')
    b.sendRaw(frame(entry(A, 9, null)))
    b.sendRaw(frame(entry(B, 2, { name: 'bob 2' })))
    await waitFor(() => seen.states.get(B)?.name === 'bob 2', 5000, 'B updated')
    expect(seen.states.get(A)).toEqual({ name: 'alice 3' })
    expect(seen.removals).toEqual([A]) // A's own removal only

    // A's socket closes: its entry is removed for everyone, and its client id is free again.
    a.ws.terminate()
    await waitFor(() => !seen.states.has(A), 5000, 'A removed on close')
    expect(seen.states.get(B)).toEqual({ name: 'bob 2' })
    b.sendRaw(frame(entry(A, 10, { name: 'bob as A' })))
    await waitFor(() => seen.states.get(A)?.name === 'bob as A', 5000, 'the freed id taken')
  })

  it('a socket owns at most 16 client ids in a room; it keeps using those', async () => {
    const s = await start()
    const a = raw(`${s.wsUrl}/many`)
    const w = raw(`${s.wsUrl}/many`)
    const seen = observe(w)
    await waitFor(() => a.synced && w.synced)
    a.sendRaw(frame(...Array.from({ length: 40 }, (_, i) => entry(5000 + i, 1, { i }))))
    a.sendRaw(frame(entry(5000, 2, { i: 'again' }), entry(9999, 1, { i: 'one more' })))
    await waitFor(() => seen.states.get(5000)?.i === 'again', 5000, 'the owned id updated')
    expect([...seen.states.keys()].sort()).toEqual(Array.from({ length: 16 }, (_, i) => 5000 + i))
  })

  it('another socket of the same device session takes an entry over (a reconnect); another device of the same user cannot', async () => {
    const s = await startIdentityServer()
    onCleanup(() => s.close())
    const phone = await signedInDevice(s.url)
    const laptop = await secondDevice(phone, 'laptop')
    const doc = phone.tokens.sessionDoc
    const connect = (device: typeof phone) => raw(`${s.wsUrl}/${doc}?token=${encodeURIComponent(device.tokens.accessToken)}`)
    const oldSocket = connect(phone)
    const laptopSocket = connect(laptop)
    const watcher = connect(laptop)
    const seen = observe(watcher)
    await waitFor(() => oldSocket.synced && laptopSocket.synced && watcher.synced)
    oldSocket.sendRaw(frame(entry(A, 1, { name: 'phone' })))
    await waitFor(() => seen.states.get(A)?.name === 'phone', 5000, 'the phone announced')

    laptopSocket.sendRaw(frame(entry(A, 2, { name: 'laptop' })))
    laptopSocket.sendRaw(frame(entry(B, 1, { name: 'laptop itself' })))
    await waitFor(() => seen.states.has(B), 5000, 'the laptop announced')
    expect(seen.states.get(A)).toEqual({ name: 'phone' })

    const reconnected = connect(phone) // the old socket is still open
    await waitFor(() => reconnected.synced)
    reconnected.sendRaw(frame(entry(A, 3, { name: 'phone again' })))
    await waitFor(() => seen.states.get(A)?.name === 'phone again', 5000, 'the reconnect took over')

    // The old socket no longer owns the entry: closing it removes nothing.
    const room = (await s.rooms.loaded()).find(r => r.name === doc)!
    oldSocket.ws.terminate()
    await waitFor(() => room.connections.size === 3, 5000, 'the server to see the old socket close')
    reconnected.sendRaw(frame(entry(A, 4, { name: 'phone, after' })))
    await waitFor(() => seen.states.get(A)?.name === 'phone, after', 5000, 'the later update')
    expect(seen.removals).toEqual([])
  })
})
