import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'

/** Yjs content ref of ContentAny and the info bits this file reads (see edit-codec.ts). */
const CONTENT_ANY = 8
const HAS_ORIGIN = 0b1000_0000
const HAS_RIGHT_ORIGIN = 0b0100_0000
const HAS_PARENT_SUB = 0b0010_0000

/** Step over a lib0 varString (byte length, UTF-8 bytes) without decoding it. */
const skipString = (d: decoding.Decoder) => {
  const length = decoding.readVarUint(d) // first: `d.pos += readVarUint(d)` would add to the old pos
  d.pos += length
}

/**
 * What a light device holds of other clients, as a state vector, without a Y.Doc: per client, the
 * clock up to which it has received every struct. A real device (a Y.Doc, the SDK's offline cache)
 * reconnects with its whole state vector and gets back only what it lacks; a light device that
 * named only its own client would get the whole document on every reconnect.
 *
 * It only advances over contiguous clocks: an update that starts past what is held (a gap) is not
 * counted, so the vector never claims more than the device holds — at worst the server sends
 * something again, and markers already seen are ignored.
 */
export class HeldVector {
  private readonly next = new Map<number, number>()

  /** Count the structs of a received update (v1). */
  note (update: Uint8Array): void {
    if (!this.noteOneItem(update)) this.noteAll(update)
  }

  /** The state vector of what is held, merged with `own` (client → clock: the device's own edits). */
  encode (own: Map<number, number> = new Map()): Uint8Array {
    const sv = new Map(this.next)
    for (const [client, clock] of own) sv.set(client, Math.max(clock, sv.get(client) ?? 0))
    return Y.encodeStateVector(sv)
  }

  private advance (client: number, clock: number, length: number) {
    const held = this.next.get(client) ?? 0
    if (clock <= held && clock + length > held) this.next.set(client, clock + length)
  }

  /**
   * The live path, one edit per message: an update holding a single Item of one client whose
   * content is ContentAny, as a simulated edit (edit-codec.ts) and Y.Map#set write it. Reads only
   * its header and never builds it. Returns false for anything else.
   */
  private noteOneItem (update: Uint8Array): boolean {
    try {
      const d = decoding.createDecoder(update)
      if (decoding.readVarUint(d) !== 1 || decoding.readVarUint(d) !== 1) return false
      const client = decoding.readVarUint(d)
      const clock = decoding.readVarUint(d)
      const info = decoding.readUint8(d)
      if ((info & 0b1_1111) !== CONTENT_ANY || (info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN)) !== 0) return false
      if (decoding.readVarUint(d) === 1) skipString(d)
      else { decoding.readVarUint(d); decoding.readVarUint(d) }
      if (info & HAS_PARENT_SUB) skipString(d)
      const values = decoding.readVarUint(d)
      this.advance(client, clock, values)
      return true
    } catch {
      return false
    }
  }

  /**
   * Any other update (a sync step 2, merged by the server): every struct in clock order. A Skip is a
   * hole the sender does not have: it is not held, so nothing after it advances either.
   */
  private noteAll (update: Uint8Array): void {
    for (const s of Y.decodeUpdate(update).structs) {
      if (!(s instanceof Y.Skip)) this.advance(s.id.client, s.id.clock, s.length)
    }
  }
}
