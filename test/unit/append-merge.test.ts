import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { appendMerge } from '../../server/yjs/append-merge.js'
import { buildDoc } from '../../server/yjs/merge-updates.js'

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** What a document holds, compared between the two merges: content, state vector, and its re-encoding. */
const stateOf = (update: Uint8Array) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const out = {
    map: doc.getMap('m').toJSON(), text: doc.getText('t').toString(), array: doc.getArray('a').toJSON(),
    vector: Array.from(Y.encodeStateVector(doc)), encoded: Array.from(Y.encodeStateAsUpdate(doc))
  }
  doc.destroy()
  return out
}

interface Workload { updates: Uint8Array[] }

/**
 * Devices edit their own Y.Doc and their updates reach the server in the order they were made; now and
 * then a device first syncs with another (so later updates depend on other clients). `deletes` lets
 * devices overwrite map keys and delete text; `unique` keeps every map key new (the load tool's edits);
 * `disorder` resends and swaps some updates.
 */
const workload = (seed: number, opts: { devices: number, edits: number, deletes: boolean, unique: boolean, disorder?: boolean }): Workload => {
  const r = rng(seed)
  const docs = Array.from({ length: opts.devices }, (_, i) => { const d = new Y.Doc(); d.clientID = 1000 + i * 7919; return d })
  const updates: Uint8Array[] = []
  for (const d of docs) d.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== 'sync') updates.push(u) })
  for (let n = 0; n < opts.edits; n++) {
    const d = docs[Math.floor(r() * docs.length)]!
    if (r() < 0.1) { // catch up with everything the server has, as a reconnecting device does
      Y.applyUpdate(d, Y.mergeUpdates(updates.length ? updates : [new Uint8Array([0, 0])]), 'sync')
      continue
    }
    const kind = r()
    if (kind < 0.5) d.getMap('m').set(opts.unique ? `k${n}` : `k${Math.floor(r() * 5)}`, opts.unique || r() < 0.5 ? `v${n}-${'é😀'.repeat(Math.floor(r() * 3))}` : { n, nested: [n, 'x'] })
    else if (kind < 0.8) {
      const t = d.getText('t')
      if (opts.deletes && t.length > 2 && r() < 0.3) t.delete(Math.floor(r() * (t.length - 1)), 1)
      else t.insert(Math.floor(r() * (t.length + 1)), r() < 0.2 ? '😀ab' : 'xy')
    } else d.getArray('a').push([n, new Uint8Array([n & 255])])
  }
  if (opts.disorder) { // what a server also sees: updates resent after a reconnect, and some out of order
    for (let n = 0; n < updates.length / 8; n++) {
      const i = 1 + Math.floor(r() * (updates.length - 2))
      if (r() < 0.5) updates.splice(i + 1, 0, updates[Math.floor(r() * i)]!)
      else [updates[i], updates[i + 1]] = [updates[i + 1]!, updates[i]!]
    }
  }
  return { updates }
}

/** Splits the stream at `at` into a rebuilt snapshot and a log, and merges them both ways. */
const bothWays = (updates: Uint8Array[], at: number) => {
  const snapshot = buildDoc(updates.slice(0, at)).update
  const parts = [snapshot, ...updates.slice(at)]
  return { fast: appendMerge(parts), rebuilt: buildDoc(parts).update }
}

describe('append merge of a snapshot and its log', () => {
  it('gives the document a rebuild gives, whenever it takes the fast path', () => {
    let fast = 0
    let refused = 0
    for (let seed = 1; seed <= 120; seed++) {
      const w = workload(seed, { devices: 1 + (seed % 4), edits: 40 + (seed % 30), deletes: seed % 3 === 0, unique: seed % 2 === 0, disorder: seed % 5 < 2 })
      for (const at of [1, Math.floor(w.updates.length / 3), w.updates.length - 1]) {
        if (at < 1 || at >= w.updates.length) continue
        const { fast: merged, rebuilt } = bothWays(w.updates, at)
        if (merged === null) { refused++; continue }
        fast++
        expect(stateOf(merged), `seed ${seed} at ${at}`).toEqual(stateOf(rebuilt))
      }
    }
    // Both paths must really be taken, or this test proves nothing.
    expect(fast).toBeGreaterThan(100)
    expect(refused).toBeGreaterThan(20)
  })

  it('takes the fast path for the load tool\'s edits and for one device typing, with a deleting snapshot', () => {
    const w = workload(7, { devices: 4, edits: 200, deletes: false, unique: true })
    expect(bothWays(w.updates, 50).fast).not.toBeNull()
    const typist = new Y.Doc()
    const ups: Uint8Array[] = []
    typist.on('update', (u: Uint8Array) => ups.push(u))
    const t = typist.getText('t')
    for (let i = 0; i < 50; i++) t.insert(t.length, 'a')
    t.delete(0, 10) // in the snapshot: its delete set is kept as it is
    const at = ups.length
    for (let i = 0; i < 50; i++) t.insert(t.length, 'b')
    const { fast, rebuilt } = bothWays(ups, at)
    expect(fast).not.toBeNull()
    expect(stateOf(fast!)).toEqual(stateOf(rebuilt))
    expect(stateOf(fast!).text).toBe('a'.repeat(40) + 'b'.repeat(50))
  })

  it('refuses a delete in the log, a resent update, a gap, and a client that starts past clock 0', () => {
    const d = new Y.Doc()
    const ups: Uint8Array[] = []
    d.on('update', (u: Uint8Array) => ups.push(u))
    for (let i = 0; i < 6; i++) d.getText('t').insert(0, 'x')
    const deleting = (() => { d.getText('t').delete(0, 1); return ups[ups.length - 1]! })()
    const snap = buildDoc(ups.slice(0, 3)).update
    expect(appendMerge([snap, ...ups.slice(3, 6)])).not.toBeNull()
    expect(appendMerge([snap, ...ups.slice(3, 6), deleting])).toBeNull() // deletes
    expect(appendMerge([snap, ups[2]!, ...ups.slice(3, 6)])).toBeNull() // ups[2] is already in the snapshot
    expect(appendMerge([snap, ups[4]!])).toBeNull() // ups[3] is missing
    expect(appendMerge([ups[1]!, ups[2]!])).toBeNull() // the client's first run starts at clock 1
    expect(appendMerge([snap, new Uint8Array([1, 2, 3])])).toBeNull() // does not read
  })

  it('refuses a client that appears twice in one update, as Yjs keeps only its last run', () => {
    const d = new Y.Doc()
    d.clientID = 5
    const ups: Uint8Array[] = []
    d.on('update', (u: Uint8Array) => ups.push(u))
    d.getMap('m').set('a', 1)
    d.getMap('m').set('b', 2)
    // Two runs of client 5 in one update, hand-joined: [2 clients][run 1 of ups[0]][run 1 of ups[1]][empty ds]
    const body = (u: Uint8Array) => u.subarray(1, u.length - 1) // drop the client count and the empty delete set
    const twice = new Uint8Array([2, ...body(ups[0]!), ...body(ups[1]!), 0])
    expect(appendMerge([twice])).toBeNull()
  })
})
