import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { percentile, Samples } from '../stats.js'
import { makeMarker, scanMarkers, type Marker } from '../markers.js'
import { checkConvergence, type ConvergenceReport } from '../convergence.js'
import { mergeReports } from '../merge.js'
import { splitUsers } from '../processes.js'
import { sampleMainThread } from '../proc.js'
import type { LoadReport } from '../report.js'
import { encodeUpdate } from '../../../shared/protocol.js'
import { editOrder } from '../scenarios.js'
import type { SimDevice } from '../device.js'

describe('percentiles', () => {
  it('nearest rank on sorted data', () => {
    const s = Float64Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(s, 50)).toBe(50)
    expect(percentile(s, 99)).toBe(99)
    expect(percentile(s, 100)).toBe(100)
    expect(percentile([], 99)).toBe(0)
    expect(percentile([7], 1)).toBe(7)
  })
  it('summary sorts unsorted samples', () => {
    const s = new Samples()
    for (const v of [5, 1, 9, 3, 7]) s.add(v)
    expect(s.summary()).toMatchObject({ count: 5, p50: 5, max: 9 })
  })
})

describe('markers', () => {
  it('are found in a real Yjs update frame without decoding it', () => {
    const doc = new Y.Doc()
    let frame: Uint8Array = new Uint8Array()
    doc.on('update', (u: Uint8Array) => { frame = encodeUpdate(u) })
    doc.getMap('e').set('u1.d2.3', makeMarker('u1.d2.3', 1234.5))
    const found: Marker[] = []
    expect(scanMarkers(frame, m => found.push(m))).toBe(1)
    expect(found[0]).toEqual({ editId: 'u1.d2.3', sentAt: 1234.5 })
  })
  it('finds several markers, and none in a frame without one', () => {
    const bytes = Buffer.from(`xx${makeMarker('a.b.1', 1)}yy${makeMarker('a.b.2', 2)}`)
    const ids: string[] = []
    scanMarkers(bytes, m => ids.push(m.editId))
    expect(ids).toEqual(['a.b.1', 'a.b.2'])
    expect(scanMarkers(Buffer.from([0, 2, 5, 64, 64, 1]), () => {})).toBe(0)
  })
})

describe('markers next to an @ byte', () => {
  it('finds a 64-character marker, whose length prefix is 0x40 (an @), in a real update frame', async () => {
    const { encodeMapSet } = await import('../edit-codec.js')
    const sentAt = 1795655588000.125
    // makeMarker adds 21 characters to the id for a timestamp of this size.
    const editId = 'u'.repeat(64 - makeMarker('', sentAt).length)
    const marker = makeMarker(editId, sentAt)
    expect(marker).toHaveLength(64)
    const frame = encodeUpdate(encodeMapSet(7, 0, 'edits', editId, marker))
    const at = Buffer.from(frame).indexOf(marker)
    expect(frame[at - 1]).toBe(0x40) // the byte a naive '@@' search would start from
    const found: Marker[] = []
    expect(scanMarkers(frame, m => found.push(m))).toBe(1)
    expect(found[0]).toEqual({ editId, sentAt })
  })

  it('skips false starts anywhere: "@@@", "@@|", stray @ bytes', () => {
    const ids: string[] = []
    const bytes = Buffer.concat([Buffer.from('@@|x@@@'), Buffer.from(makeMarker('a.b.1', 5)), Buffer.from([0x40, 0x40, 0x40]), Buffer.from(makeMarker('a.b.2', 6))])
    expect(scanMarkers(bytes, m => ids.push(m.editId))).toBe(2)
    expect(ids).toEqual(['a.b.1', 'a.b.2'])
  })
})

describe('convergence check', () => {
  const made = new Map([['u1', new Set(['u1.d1.1', 'u1.d2.1'])]])
  const all = new Set(['u1.d1.1', 'u1.d2.1'])
  it('passes when every device and the server hold every edit', () => {
    const r = checkConvergence(made, [{ deviceId: 'd1', userId: 'u1', editIds: all }, { deviceId: 'd2', userId: 'u1', editIds: all }], new Map([['u1', all]]))
    expect(r).toMatchObject({ lostEdits: 0, unreadableUsers: 0, divergedDevices: 0, editsMade: 2 })
  })
  it('catches a deliberately dropped edit on the server and on a device', () => {
    const dropped = new Set(['u1.d1.1'])
    const r = checkConvergence(made, [{ deviceId: 'd1', userId: 'u1', editIds: all }, { deviceId: 'd2', userId: 'u1', editIds: dropped }], new Map([['u1', dropped]]))
    expect(r.lostEdits).toBe(1)
    expect(r.divergedDevices).toBe(1)
    expect(r.examples.join()).toContain('lost u1.d2.1')
  })
  it('a server state that could not be read is unreadable, not lost, and not a pass', () => {
    const r = checkConvergence(made, [{ deviceId: 'd1', userId: 'u1', editIds: all }, { deviceId: 'd2', userId: 'u1', editIds: all }], new Map([['u1', null]]))
    expect(r).toMatchObject({ lostEdits: 0, unreadableUsers: 1, divergedDevices: 0 })
    expect(r.examples.join()).toContain('server state of user u1 unreadable')
  })
})

describe('hand-encoded edits', () => {
  it('are byte-identical to what Yjs writes and apply to a real document', async () => {
    const { encodeMapSet } = await import('../edit-codec.js')
    const doc = new Y.Doc()
    doc.clientID = 123456
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    const v1 = makeMarker('u1.d1.0', 1.5)
    const v2 = makeMarker('u1.d1.1', 2.5)
    doc.getMap('edits').set('u1.d1.0', v1)
    doc.getMap('edits').set('u1.d1.1', v2)
    expect(encodeMapSet(123456, 0, 'edits', 'u1.d1.0', v1)).toEqual(updates[0])
    expect(encodeMapSet(123456, 1, 'edits', 'u1.d1.1', v2)).toEqual(updates[1])
    const other = new Y.Doc()
    Y.applyUpdate(other, encodeMapSet(99, 0, 'edits', 'k', 'v'))
    expect(other.getMap('edits').get('k')).toBe('v')
  })
})

describe('what a light device holds (HeldVector)', () => {
  const edits = async (client: number, n: number, from = 0) => {
    const { encodeMapSet } = await import('../edit-codec.js')
    return Array.from({ length: n }, (_, i) => encodeMapSet(client, from + i, 'edits', `c${client}.${from + i}`, makeMarker(`c${client}.${from + i}`, 1)))
  }
  const svOf = (bytes: Uint8Array) => Object.fromEntries(Y.decodeStateVector(bytes))

  it('counts live edits as a Y.Doc does, so the server diff for it is empty', async () => {
    const { HeldVector } = await import('../held-vector.js')
    const held = new HeldVector()
    const server = new Y.Doc()
    for (const u of [...await edits(7, 3), ...await edits(9, 2)]) { held.note(u); Y.applyUpdate(server, u) }
    expect(svOf(held.encode())).toEqual(svOf(Y.encodeStateVector(server)))
    // the sync step 2 the server would answer with holds no struct
    expect(Y.decodeUpdate(Y.encodeStateAsUpdate(server, held.encode())).structs).toHaveLength(0)
  })

  it('counts a merged sync step 2 (any content), and Y.Map/Y.Text updates that take the slow path', async () => {
    const { HeldVector } = await import('../held-vector.js')
    const server = new Y.Doc()
    server.clientID = 5
    server.getText('draft').insert(0, 'hello')
    server.getMap('edits').set('k', 'v')
    for (const u of await edits(11, 4)) Y.applyUpdate(server, u)
    const held = new HeldVector()
    held.note(Y.encodeStateAsUpdate(server))
    expect(svOf(held.encode())).toEqual(svOf(Y.encodeStateVector(server)))
    const text = new Y.Doc()
    text.clientID = 6
    const live: Uint8Array[] = []
    text.on('update', (u: Uint8Array) => live.push(u))
    text.getText('t').insert(0, 'abc')
    text.getArray('a').insert(0, [1, 2])
    for (const u of live) held.note(u)
    expect(svOf(held.encode())[6]).toBe(5)
  })

  it('never claims past a gap: an edit that arrives before its predecessor is asked for again', async () => {
    const { HeldVector } = await import('../held-vector.js')
    const [e0, e1, e2] = await edits(7, 3)
    const held = new HeldVector()
    held.note(e0!)
    held.note(e2!) // clock 2 while 1 is missing
    expect(svOf(held.encode())).toEqual({ 7: 1 })
    held.note(e1!)
    held.note(e2!) // a duplicate after the gap closed
    expect(svOf(held.encode())).toEqual({ 7: 3 })
    // a merged update with a hole (Yjs writes a Skip for it) counts only up to the hole
    const fresh = new HeldVector()
    fresh.note(Y.mergeUpdates([e0!, e2!]))
    expect(svOf(fresh.encode())).toEqual({ 7: 1 })
  })

  it('merges the device\'s own clocks in, never lowering what it received of itself', async () => {
    const { HeldVector } = await import('../held-vector.js')
    const held = new HeldVector()
    for (const u of await edits(7, 4)) held.note(u)
    expect(svOf(held.encode(new Map([[7, 2], [8, 3]])))).toEqual({ 7: 4, 8: 3 })
  })
})

describe('--processes: splitting users and merging the reports', () => {
  const report = (o: Partial<Omit<LoadReport, 'convergence'>> & { convergence?: Partial<ConvergenceReport> }): LoadReport => ({
    scenario: 'steady', target: 'http://127.0.0.1:1', users: 1, devices: 4, mode: 'light', loginSeconds: 1, measuredSeconds: 10,
    editsSent: 100, delivered: 300, deliveredPerSecond: 30, latencyMs: { count: 0, p50: 0, p95: 0, p99: 0, max: 0 },
    logins: 4, reconnects: 0, refreshes: 0, syncStep2: { count: 4, bytes: 100 }, errors: {}, closes: {}, signedOut: 0, extra: {}, server: null, generatorCpuSeconds: 1,
    ...o,
    convergence: { users: 1, devices: 4, editsMade: 100, lostEdits: 0, unreadableUsers: 0, divergedDevices: 0, examples: [], ...o.convergence }
  })

  it('gives every process a share of the users as even as possible, and none to a process with nothing to do', () => {
    expect(splitUsers(10, 3)).toEqual([4, 3, 3])
    expect(splitUsers(2, 4)).toEqual([1, 1])
    expect(splitUsers(250, 2)).toEqual([125, 125])
  })

  it('adds counts up, takes percentiles over every sample, keeps the slowest time and any lost edit', () => {
    const a = report({ users: 2, loginSeconds: 3, extra: { convergeSeconds: 1.5 }, errors: { 'socket:x': 1 }, closes: { 4401: 2 }, convergence: { lostEdits: 1, examples: ['u1.d0.7 lost'] } })
    const b = report({ users: 3, measuredSeconds: 10.4, extra: { convergeSeconds: 2.5 }, errors: { 'socket:x': 2, 'token:y': 1 }, reconnects: 5, convergence: { divergedDevices: 1 } })
    // 1..100 ms in one process, 101..200 in the other: p50 of the whole is 100, of either half it is not.
    const m = mergeReports([{ report: a, samples: Array.from({ length: 100 }, (_, i) => i + 1) }, { report: b, samples: Array.from({ length: 100 }, (_, i) => i + 101) }], { cpuSeconds: 7, peakRssMb: 200, rssMb: 150, main: { runMs: 5000, waitMs: 700 } }, 0.5)
    expect(m.latencyMs).toMatchObject({ count: 200, p50: 100, p99: 198, max: 200 })
    expect(m).toMatchObject({ users: 5, devices: 8, editsSent: 200, delivered: 600, deliveredPerSecond: 60, loginSeconds: 3, measuredSeconds: 10.4, reconnects: 5, generatorCpuSeconds: 2.5, syncStep2: { count: 8, bytes: 200 } })
    expect(m.errors).toEqual({ 'socket:x': 3, 'token:y': 1 })
    expect(m.closes).toEqual({ 4401: 2 })
    expect(m.extra).toEqual({ convergeSeconds: 2.5 })
    expect(m.convergence).toMatchObject({ users: 2, devices: 8, editsMade: 200, lostEdits: 1, divergedDevices: 1, examples: ['u1.d0.7 lost'] })
    expect(m.server).toEqual({ cpuSeconds: 7, peakRssMb: 200, rssMb: 150, main: { runMs: 5000, waitMs: 700 } })
  })
})

describe('process sampling (/proc)', () => {
  it('the main thread\'s run time grows by the time it spent busy; its wait for a CPU never shrinks', () => {
    const before = sampleMainThread(process.pid)
    expect(before).not.toBeNull()
    // Busy until this process has used 60 ms of CPU (wall time is no measure on a loaded machine).
    const cpu0 = process.cpuUsage()
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) { const c = process.cpuUsage(cpu0); if (c.user + c.system >= 60_000) break }
    const after = sampleMainThread(process.pid)!
    expect(after.runMs - before!.runMs).toBeGreaterThanOrEqual(40)
    expect(after.runMs - before!.runMs).toBeLessThan(5000)
    expect(after.waitMs).toBeGreaterThanOrEqual(before!.waitMs)
    expect(sampleMainThread(2 ** 22 + 1)).toBeNull() // no such process
  })
})

describe('a failed request of the load tool', () => {
  it('names the request and the socket error, not just "fetch failed"', async () => {
    const net = await import('node:net')
    const { DeviceCredentials } = await import('../auth.js')
    // A port that was just free: nobody listens there.
    const s = net.createServer()
    await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
    const port = (s.address() as { port: number }).port
    await new Promise(resolve => s.close(resolve))
    const c = new DeviceCredentials(`http://127.0.0.1:${port}`, 'x@load.test', 'pw-irrelevant-123', 'sim')
    await expect(c.login()).rejects.toThrow(/^\/auth\/login: fetch failed \(ECONNREFUSED\)$/)
  })
})

describe('the steady edit order', () => {
  it('takes one device of every user before any user\'s next one, uneven users included', () => {
    const user = (id: string, n: number) => ({ userId: id, docName: id, credentials: [], devices: Array.from({ length: n }, (_, j) => ({ id: `${id}.${j}` }) as unknown as SimDevice) })
    const order = editOrder([user('a', 3), user('b', 1), user('c', 2)]).map(d => (d as unknown as { id: string }).id)
    expect(order).toEqual(['a.0', 'b.0', 'c.0', 'a.1', 'c.1', 'a.2'])
  })
})
