import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { checkUpdateV1 } from '../../server/yjs/update-check.js'

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

  // Seeded, so a run is repeatable; SYNC_FUZZ_ROUNDS=20000 (or more) runs a longer search.
  const fuzzRounds = Number(process.env.SYNC_FUZZ_ROUNDS) || 4000
  it('accepts no corrupted update Yjs cannot read, and Y.applyUpdate never throws on one it accepts', () => {
    const next = random(20261126)
    let refused = 0
    let badText = 0
    let onlyOurs = 0
    for (let round = 0; round < fuzzRounds; round++) {
      const base = updates[Math.floor(next() * updates.length)]!
      const u = Uint8Array.from(base)
      for (let flips = 1 + Math.floor(next() * 4); flips > 0; flips--) u[Math.floor(next() * u.length)] = Math.floor(next() * 256)
      const yjs = yjsReads(u)
      let message = ''
      try { checkUpdateV1(u) } catch (err) { message = (err as Error).message }
      if (message) {
        refused++
        if (/utf-8|JSON/.test(message)) badText++
        if (yjs) {
          // Yjs reads it but would throw applying it, half-way: only this check's own rules refuse it.
          onlyOurs++
          expect(message, Buffer.from(u).toString('hex')).toMatch(/^(item refers to a clock of its own client|empty struct|empty delete range)/)
        }
        continue
      }
      expect(yjs, `accepted an update Yjs cannot read: ${Buffer.from(u).toString('hex')}`).toBe(true)
      // The room broadcasts what the check accepts before it applies it: applying must not throw, into
      // an empty document, one holding the original, or one holding another update of the corpus.
      for (const prime of [null, base, updates[Math.floor(next() * updates.length)]!]) {
        const doc = new Y.Doc()
        if (prime) Y.applyUpdate(doc, prime)
        expect(() => Y.applyUpdate(doc, u), Buffer.from(u).toString('hex')).not.toThrow()
      }
    }
    expect(refused).toBeGreaterThan(fuzzRounds / 20)
    expect(badText).toBeGreaterThan(fuzzRounds / 200) // invalid UTF-8 and JSON were really exercised
    expect(onlyOurs).toBeGreaterThan(0)
    expect(onlyOurs).toBeLessThan(refused / 5)
  }, Math.max(60_000, fuzzRounds * 6)) // each round applied three times: CPU-bound, slow on a busy machine

  it('refuses what Yjs reads but cannot apply: references forward in its own client, empty structs and delete ranges', () => {
    const item = (origin: [number, number]) => {
      const e = encoding.createEncoder()
      for (const n of [1, 2, 77, 0]) encoding.writeVarUint(e, n) // 1 client, 2 structs, client 77, clock 0
      encoding.writeUint8(e, 4 | 0b0010_0000); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'm'); encoding.writeVarString(e, 'k')
      encoding.writeVarString(e, 'ab') // clocks 0 and 1
      encoding.writeUint8(e, 4 | 0b1000_0000); encoding.writeVarUint(e, origin[0]); encoding.writeVarUint(e, origin[1])
      encoding.writeVarString(e, 'c') // clock 2
      encoding.writeVarUint(e, 0)
      return encoding.toUint8Array(e)
    }
    expect(() => checkUpdateV1(item([77, 1]))).not.toThrow() // the 'b' before it
    expect(() => Y.applyUpdate(new Y.Doc(), item([77, 1]))).not.toThrow()
    for (const bad of [item([77, 2]), item([77, 5])]) {
      expect(yjsReads(bad)).toBe(true)
      expect(() => Y.applyUpdate(new Y.Doc(), bad)).toThrow()
      expect(() => checkUpdateV1(bad)).toThrow('item refers to a clock of its own client that is not before it')
    }
    expect(() => checkUpdateV1(item([78, 9]))).not.toThrow() // another client's: Yjs waits for it
    // A non-BMP character takes two clocks (UTF-16 units), so 'a😀' ends at clock 2 and clock 2 is next.
    const astral = (originClock: number) => {
      const e = encoding.createEncoder()
      for (const n of [1, 2, 77, 0]) encoding.writeVarUint(e, n)
      encoding.writeUint8(e, 4 | 0b0010_0000); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'm'); encoding.writeVarString(e, 'k')
      encoding.writeVarString(e, 'a😀')
      encoding.writeUint8(e, 4 | 0b1000_0000); encoding.writeVarUint(e, 77); encoding.writeVarUint(e, originClock)
      encoding.writeVarString(e, 'c')
      encoding.writeVarUint(e, 0)
      return encoding.toUint8Array(e)
    }
    expect(() => checkUpdateV1(astral(2))).not.toThrow()
    expect(() => checkUpdateV1(astral(3))).toThrow('item refers to a clock of its own client')
    const emptyRange = new Uint8Array([0, 1, 77, 1, 5, 0]) // no structs; delete set: client 77, [5, +0)
    expect(yjsReads(emptyRange)).toBe(true)
    expect(() => Y.applyUpdate(new Y.Doc(), emptyRange)).toThrow()
    expect(() => checkUpdateV1(emptyRange)).toThrow('empty delete range')
  })

  it('refuses invalid UTF-8, bad JSON and null sub-document options, as Yjs does while reading', () => {
    const one = (write: (e: encoding.Encoder) => void) => {
      const e = encoding.createEncoder()
      for (const n of [1, 1, 77, 0]) encoding.writeVarUint(e, n) // 1 client, 1 struct, client 77, clock 0
      write(e)
      encoding.writeVarUint(e, 0) // empty delete set
      return encoding.toUint8Array(e)
    }
    const mapEntry = (ref: number, key: Uint8Array | string) => (e: encoding.Encoder) => {
      encoding.writeUint8(e, ref | 0b0010_0000)
      encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'm')
      if (typeof key === 'string') encoding.writeVarString(e, key); else encoding.writeVarUint8Array(e, key)
    }
    const cases: Array<[string, Uint8Array]> = [
      ['a key that is not UTF-8', one(e => { mapEntry(4, new Uint8Array([0xc3, 0x28]))(e); encoding.writeVarString(e, 'v') })],
      ['string content that is not UTF-8', one(e => { mapEntry(4, 'k')(e); encoding.writeVarUint8Array(e, new Uint8Array([0x61, 0xff])) })],
      ['a lone surrogate encoded as UTF-8', one(e => { mapEntry(4, 'k')(e); encoding.writeVarUint8Array(e, new Uint8Array([0xed, 0xa0, 0x80])) })],
      ['legacy JSON content that does not parse', one(e => { mapEntry(2, 'k')(e); encoding.writeVarUint(e, 1); encoding.writeVarString(e, '{"a":') })],
      ['an embed that does not parse', one(e => { mapEntry(5, 'k')(e); encoding.writeVarString(e, '[1,') })],
      ['a format value that does not parse', one(e => { mapEntry(6, 'k')(e); encoding.writeVarString(e, 'bold'); encoding.writeVarString(e, 'tru') })],
      ['sub-document options null', one(e => { mapEntry(9, 'k')(e); encoding.writeVarString(e, 'guid'); encoding.writeUint8(e, 126) })]
    ]
    for (const [name, u] of cases) {
      expect(yjsReads(u), name).toBe(false)
      expect(() => checkUpdateV1(u), name).toThrow()
    }
    // The same shapes with good values are accepted and apply.
    const good = [
      one(e => { mapEntry(4, 'ключ')(e); encoding.writeVarString(e, 'ü→😀') }),
      one(e => { mapEntry(2, 'k')(e); encoding.writeVarUint(e, 2); encoding.writeVarString(e, '{"a":1}'); encoding.writeVarString(e, 'undefined') }),
      one(e => { mapEntry(6, 'k')(e); encoding.writeVarString(e, 'bold'); encoding.writeVarString(e, 'true') }),
      one(e => { mapEntry(9, 'k')(e); encoding.writeVarString(e, 'guid'); encoding.writeUint8(e, 118); encoding.writeVarUint(e, 0) }),
      one(e => { mapEntry(3, 'k')(e); encoding.writeVarUint8Array(e, new Uint8Array([0xff, 0xfe])) }) // binary is not text
    ]
    for (const u of good) {
      expect(() => checkUpdateV1(u)).not.toThrow()
      expect(() => Y.applyUpdate(new Y.Doc(), u)).not.toThrow()
    }
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
