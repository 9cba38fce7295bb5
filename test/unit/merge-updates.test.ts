import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { mergeUpdates } from '../../server/yjs/merge-updates.js'

const updatesOf = (edit: (doc: Y.Doc) => void, doc = new Y.Doc()) => {
  const out: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => out.push(u))
  edit(doc)
  return { doc, out }
}

describe('mergeUpdates (through a Y.Doc)', () => {
  it('equals applying every update, and drops overwritten values', () => {
    const { doc, out } = updatesOf(d => {
      for (let i = 0; i < 200; i++) d.getMap('m').set('theme', `v${i}`.padEnd(500, '.'))
      d.getText('t').insert(0, 'hello'); d.getText('t').delete(1, 2)
      d.getArray('a').push([1, 2, 3])
    })
    const merged = mergeUpdates(out)
    const copy = new Y.Doc(); Y.applyUpdate(copy, merged)
    expect(copy.getMap('m').toJSON()).toEqual(doc.getMap('m').toJSON())
    expect(copy.getText('t').toString()).toBe('hlo')
    expect(copy.getArray('a').toArray()).toEqual([1, 2, 3])
    expect(merged.byteLength).toBeLessThan(2000) // the 199 overwritten 500-byte values are gone
    expect(Y.mergeUpdates(out).byteLength).toBeGreaterThan(100_000) // a byte merge keeps them
  })

  it('keeps updates whose dependencies are missing (pending), so they apply once those arrive', () => {
    const { out } = updatesOf(d => { d.getText('t').insert(0, 'abc'); d.getText('t').insert(3, 'def') })
    const later = mergeUpdates([out[1]!]) // only the second: it depends on the first
    const withGap = mergeUpdates([later, Y.encodeStateAsUpdate(new Y.Doc())])
    const copy = new Y.Doc()
    Y.applyUpdate(copy, withGap)
    expect(copy.getText('t').toString()).toBe('')
    Y.applyUpdate(copy, out[0]!)
    expect(copy.getText('t').toString()).toBe('abcdef')
  })

  it('falls back to a byte merge, and says so, if Yjs throws applying', () => {
    const good = updatesOf(d => d.getMap('m').set('a', 1)).out[0]!
    const bad = new Uint8Array([0, 1, 77, 1, 5, 0]) // an empty delete range: Yjs throws after reading it
    const errors: string[] = []
    const merged = mergeUpdates([good, bad], err => errors.push(err.message))
    expect(errors.length).toBe(1)
    const copy = new Y.Doc(); Y.applyUpdate(copy, Y.mergeUpdates([good]))
    expect(Y.encodeStateVectorFromUpdate(merged)).toEqual(Y.encodeStateVector(copy))
  })
})
