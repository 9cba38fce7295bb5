import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Socket } from 'node:net'
import { serverFixtures, waitFor } from '../helpers/server.js'
import { upgradeSockets } from '../helpers/tcp-ws.js'
import { encodeUpdate } from '../../shared/protocol.js'

const { start, raw } = serverFixtures()

/** Updates of one writer doc, in order: push(0), push(1), … */
const updates = (n: number) => {
  const doc = new Y.Doc()
  const out: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => out.push(u))
  for (let i = 0; i < n; i++) doc.getArray<number>('a').push([i])
  return out
}

/** Every write `socket` hands to the kernel from now on (one per `_write`/`_writev` call), in bytes. */
const kernelWrites = (socket: Socket): number[] => {
  const writes: number[] = []
  type Write = (this: Socket, chunk: Buffer, ...rest: unknown[]) => void
  type Writev = (this: Socket, chunks: Array<{ chunk: Buffer }>, ...rest: unknown[]) => void
  const s = socket as unknown as { _write: Write, _writev: Writev }
  const write = s._write
  const writev = s._writev
  s._write = function (chunk, ...rest) { writes.push(chunk.length); write.call(this, chunk, ...rest) }
  s._writev = function (chunks, ...rest) {
    writes.push(chunks.reduce((n, c) => n + c.chunk.length, 0))
    writev.call(this, chunks, ...rest)
  }
  return writes
}

describe('updates accepted in one event-loop turn', () => {
  it('go out to each socket as one write: every frame of the turn in one system call', async () => {
    const s = await start()
    const serverSide = upgradeSockets(s.http.server)
    const sender = raw(`${s.wsUrl}/batch?who=sender`)
    await waitFor(() => sender.synced)
    const watcher = raw(`${s.wsUrl}/batch?who=watcher`)
    await waitFor(() => watcher.synced)
    const room = await s.rooms.acquire('batch')
    const from = [...room.connections][0]! // the sender's: attached first
    const writes = kernelWrites(serverSide.get('/sync/batch?who=watcher')!)
    const before = watcher.received.length

    const frames = updates(3).map(u => encodeUpdate(u))
    for (const [i, u] of updates(3).entries()) room.applyUpdate(u, from, frames[i]!)
    await waitFor(() => watcher.received.length === before + 3, 5000, 'three frames')
    s.rooms.release('batch')
    // Each frame: a 2-byte header and its payload (all under 126 bytes).
    expect(writes).toEqual([frames.reduce((n, f) => n + 2 + f.byteLength, 0)])
  })


  it('a read in the same turn sees every accepted update; each is broadcast in order and persisted', async () => {
    const s = await start()
    const sender = raw(`${s.wsUrl}/batch`)
    const watcher = raw(`${s.wsUrl}/batch`)
    await waitFor(() => sender.synced && watcher.synced)
    const room = await s.rooms.acquire('batch')
    const from = [...room.connections][0]!
    const before = watcher.received.length

    // Three updates accepted in one synchronous stretch, as when one socket read carries several frames.
    for (const u of updates(3)) room.applyUpdate(u, from, encodeUpdate(u))
    // A new device's sync step 1 answered in the same turn already contains all three.
    const fresh = new Y.Doc()
    Y.applyUpdate(fresh, room.diff(Y.encodeStateVector(fresh)))
    expect(fresh.getArray('a').toArray()).toEqual([0, 1, 2])

    await waitFor(() => watcher.doc.getArray('a').length === 3, 5000, 'broadcast')
    expect(watcher.doc.getArray('a').toArray()).toEqual([0, 1, 2])
    // The watcher got each update as its own frame (the received frames, not a merge), exactly once.
    expect(watcher.received.length - before).toBe(3)

    s.rooms.release('batch')
    const docs = s.db!.sublevel<string, Uint8Array>('docs', { valueEncoding: 'view' })
    const logEntries = async () => { let n = 0; for await (const _ of docs.keys({ gt: 'u!batch!', lt: 'u!batch!~' })) n++; return n }
    await waitFor(async () => await logEntries() === 3, 5000, 'three log entries in LevelDB')
  })

  it('an undecodable update in a burst closes only its sender (4400); the rest of the burst lands', async () => {
    const s = await start()
    const good = raw(`${s.wsUrl}/burst`)
    const bad = raw(`${s.wsUrl}/burst`)
    const watcher = raw(`${s.wsUrl}/burst`)
    await waitFor(() => good.synced && bad.synced && watcher.synced)
    for (let i = 0; i < 20; i++) good.doc.getArray<number>('a').push([i])
    const truncated = updates(1)[0]!.subarray(0, 5)
    bad.ws.send(encodeUpdate(truncated))
    for (let i = 20; i < 40; i++) good.doc.getArray<number>('a').push([i])
    expect(await bad.closed).toBe(4400)
    await waitFor(() => watcher.doc.getArray('a').length === 40, 5000, 'the good device\'s burst')
    expect(watcher.doc.getArray('a').toArray()).toEqual(Array.from({ length: 40 }, (_, i) => i))
    expect(good.closeCode).toBeNull()
  })

  it('an update the store refuses closes its sender (4400), not the process, and reaches nobody', async () => {
    const s = await start()
    const a = raw(`${s.wsUrl}/orphan`)
    await waitFor(() => a.synced)
    // Shutdown's unload while a socket is still attached: the document is released from storage, so
    // appending to it throws.
    await s.rooms.unloadAll()
    a.doc.getArray<number>('a').push([1])
    expect(await a.closed).toBe(4400)
    expect(a.closeReason).toMatch(/invalid update: .*written before it was loaded/)
    const b = raw(`${s.wsUrl}/other`)
    await waitFor(() => b.synced, 5000, 'the server still serves')
  })
})
