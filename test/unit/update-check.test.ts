import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { checkUpdateV1 } from '../../server/sync/update-check.js'

/** Every kind of struct, content, value and delete-set entry Yjs writes in a v1 update. */
const corpus = (): Uint8Array[] => {
  const out: Uint8Array[] = []
  const doc = new Y.Doc()
  doc.on('update', (u: Uint8Array) => out.push(u))
  const map = doc.getMap('m')
  const values: unknown[] = ['text', '', 'ü→😀', 0, 63, 64, -1, -65, 2 ** 31, -(2 ** 40), Number.MAX_SAFE_INTEGER,
    1.5, -0.25, 1e300, NaN, 10n ** 18n, -(2n ** 63n), true, false, null, undefined,
    { a: 1, b: [1, 'two', { c: null }], d: {} }, [], [[[['deep']]]], new Uint8Array([0, 255, 7])]
  values.forEach((v, i) => map.set(`k${i}`, v))
  map.set('bin', new Uint8Array([1, 2, 3])) // ContentBinary
  map.set('k0', 'overwritten') // origin + delete set
  map.delete('k1')
  const text = doc.getText('t')
  text.insert(0, 'hello world')
  text.insert(5, ',') // origin and right origin
  text.format(0, 5, { bold: true }) // ContentFormat
  text.insertEmbed(3, { image: 'x.png' }) // ContentEmbed
  text.delete(1, 3)
  const arr = doc.getArray<unknown>('a')
  const nested = new Y.Map()
  arr.insert(0, [1, nested, new Y.Array(), new Y.Text('inner'), new Uint8Array([9])])
  nested.set('child', 'by parent id') // parent written as an item ID
  const gone = new Y.Map()
  arr.push([gone])
  gone.set('x', 1)
  arr.delete(arr.length - 1, 1) // a deleted type: GC structs once the state is re-encoded
  const xml = doc.getXmlFragment('x')
  const el = new Y.XmlElement('p')
  xml.insert(0, [el, new Y.XmlText('t'), new Y.XmlHook('hook') as unknown as Y.XmlText]) // the typings omit hooks
  el.setAttribute('class', 'c')
  map.set('sub', new Y.Doc({ guid: 'sub-guid' })) // ContentDoc
  out.push(Y.encodeStateAsUpdate(doc))
  // A second client, and updates merged across clients; a gap in one client's clocks gives Skip structs.
  const other = new Y.Doc()
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
  other.getMap('m').set('from-other', 1)
  out.push(Y.encodeStateAsUpdate(other))
  out.push(Y.mergeUpdates([out[0]!, out[5]!, out[9]!]))
  // ContentJSON (legacy, no longer written by Yjs), encoded by hand.
  const e = encoding.createEncoder()
  for (const n of [1, 1, 77, 0]) encoding.writeVarUint(e, n) // 1 client, 1 struct, client 77, clock 0
  encoding.writeUint8(e, 2 | 0b0010_0000) // ContentJSON with a parentSub
  encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'm'); encoding.writeVarString(e, 'json')
  encoding.writeVarUint(e, 2); encoding.writeVarString(e, '{"a":1}'); encoding.writeVarString(e, 'undefined')
  encoding.writeVarUint(e, 0)
  out.push(encoding.toUint8Array(e))
  return out
}

const yjsReads = (u: Uint8Array) => { try { Y.decodeUpdate(u); return true } catch { return false } }
const checkReads = (u: Uint8Array) => { try { checkUpdateV1(u); return true } catch { return false } }

/** Deterministic pseudo-random numbers (mulberry32) so a failure reproduces. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
}

describe('checkUpdateV1 (the server\'s pre-apply check)', () => {
  const updates = corpus()

  it('accepts every update Yjs writes, of every struct and content kind', () => {
    expect(updates.length).toBeGreaterThan(40)
    const kinds = new Set<string>()
    for (const u of updates) {
      expect(yjsReads(u)).toBe(true)
      expect(() => checkUpdateV1(u)).not.toThrow()
      for (const s of Y.decodeUpdate(u).structs) kinds.add(s instanceof Y.Item ? s.content.constructor.name : s.constructor.name)
    }
    // The corpus really covers them (names survive: vitest runs Yjs unminified).
    for (const k of ['GC', 'Skip', 'ContentDeleted', 'ContentJSON', 'ContentBinary', 'ContentString', 'ContentEmbed',
      'ContentFormat', 'ContentType', 'ContentAny', 'ContentDoc']) expect(kinds).toContain(k)
  })

  it('refuses every truncation, wherever the bytes run out, as Yjs does', () => {
    let cuts = 0
    for (const u of updates) {
      for (let len = 0; len < u.length; len++) {
        const cut = u.subarray(0, len)
        expect(checkReads(cut), `update of ${u.length} bytes cut at ${len}`).toBe(yjsReads(cut))
        expect(checkReads(cut)).toBe(false)
        cuts++
      }
    }
    expect(cuts).toBeGreaterThan(2000)
  })

  it('never refuses a corrupted update that Yjs reads, and what it accepts never runs out of bytes in Y.applyUpdate', () => {
    const next = random(20261126)
    let yjsRefused = 0
    let onlyYjsRefused = 0
    for (let round = 0; round < 20_000; round++) {
      const base = updates[Math.floor(next() * updates.length)]!
      const u = Uint8Array.from(base)
      for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) u[Math.floor(next() * u.length)] = Math.floor(next() * 256)
      const yjs = yjsReads(u)
      const ours = checkReads(u)
      if (yjs) expect(ours, `refused an update Yjs reads: ${Buffer.from(u).toString('hex')}`).toBe(true)
      else yjsRefused++
      if (!ours) continue
      if (!yjs) {
        // Accepted where Y.decodeUpdate refuses: only for values Yjs parses while reading the structs
        // (invalid UTF-8, JSON), which this check does not look into.
        onlyYjsRefused++
        let message = ''
        try { Y.decodeUpdate(u) } catch (err) { message = (err as Error).message }
        expect(message, Buffer.from(u).toString('hex')).toMatch(/not valid for encoding utf-8|JSON/)
      }
      // What the check accepts, Y.applyUpdate reads to the end (into an empty document and into one
      // holding the original): whatever else it may throw on (a value Yjs parses while reading the
      // structs, before integrating any), it never runs out of bytes half-way, after integrating.
      for (const prime of [null, base]) {
        const doc = new Y.Doc()
        if (prime) Y.applyUpdate(doc, prime)
        try { Y.applyUpdate(doc, u) } catch (err) {
          expect((err as Error).message, Buffer.from(u).toString('hex')).not.toMatch(/Unexpected end of array|Integer out of Range/)
        }
      }
    }
    expect(yjsRefused).toBeGreaterThan(1000)
    expect(onlyYjsRefused).toBeLessThan(yjsRefused / 5) // most of them invalid UTF-8
  })

  it('reads nested values as deep as Yjs does, and refuses a nesting too deep for the stack with an error, not a crash', () => {
    const nested = (depth: number) => {
      const e = encoding.createEncoder()
      for (const n of [1, 1, 77, 0]) encoding.writeVarUint(e, n)
      encoding.writeUint8(e, 8 | 0b0010_0000) // ContentAny with a parentSub
      encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'm'); encoding.writeVarString(e, 'deep')
      encoding.writeVarUint(e, 1) // one value: `depth` arrays of one element around a null
      for (let i = 0; i < depth; i++) { encoding.writeUint8(e, 117); encoding.writeVarUint(e, 1) }
      encoding.writeUint8(e, 126)
      encoding.writeVarUint(e, 0)
      return encoding.toUint8Array(e)
    }
    expect(yjsReads(nested(1000))).toBe(true)
    expect(() => checkUpdateV1(nested(1000))).not.toThrow()
    const tooDeep = nested(400_000) // 800 kB: under the default 1 MiB message limit
    expect(yjsReads(tooDeep)).toBe(false)
    expect(() => checkUpdateV1(tooDeep)).toThrow(RangeError)
    expect(() => checkUpdateV1(updates[0]!)).not.toThrow() // and it is usable afterwards
  })

  it('ignores trailing bytes (as Yjs does) and names what it refuses', () => {
    const u = updates[0]!
    const padded = new Uint8Array(u.length + 3)
    padded.set(u)
    expect(yjsReads(padded)).toBe(true)
    expect(() => checkUpdateV1(padded)).not.toThrow()
    expect(() => checkUpdateV1(new Uint8Array([1, 1, 5, 0, 0b0010_1000]))).toThrow('Unexpected end of array')
    expect(() => checkUpdateV1(new Uint8Array([1, 1, 5, 0, 0b1000_1011, 1, 0]))).toThrow('unknown content ref 11')
  })
})
