/**
 * Checks that a Yjs update (v1, what y-websocket sends) reads completely, without building it.
 *
 * Why: the room stores and broadcasts an update as soon as it passes this check and applies it only
 * later, when a device syncs or the log compacts (room.ts), so the check must refuse everything Yjs
 * would refuse while reading an update. It also keeps half-applied updates out: Y.applyUpdate
 * integrates every struct before it reads the delete set. Y.decodeUpdate would answer the question by
 * building every struct, for an update that is decoded again later; this walks the same bytes with the
 * same rules (lib0's varints, strings and `any` encoding, Yjs's struct layout from
 * `readClientsStructRefs`/`readItemContent`/`readDeleteSet`) and allocates nothing except for the
 * contents Yjs parses as JSON (legacy JSON, rich-text embeds and formats, all rare).
 *
 * Contract, fuzz-tested against Yjs in test/unit/update-check.test.ts: it accepts exactly the updates
 * Y.decodeUpdate reads (every truncation, varint overflow, invalid UTF-8 string, bad JSON and unusable
 * sub-document options is refused), and Y.applyUpdate never throws on an update it accepts.
 */
import { isUtf8 } from 'node:buffer'

const END = 'Unexpected end of array'
const BITS5 = 0b1_1111
const HAS_ORIGIN = 0b1000_0000
const HAS_RIGHT_ORIGIN = 0b0100_0000
const HAS_PARENT_SUB = 0b0010_0000
/** Yjs's content refs (contentRefs in Item.js); 0 is a GC struct and 10 a Skip. */
const enum Ref { gc = 0, deleted = 1, json = 2, binary = 3, string = 4, embed = 5, format = 6, type = 7, any = 8, doc = 9, skip = 10 }
/** Type refs (typeRefs in Item.js) whose content carries a node name: YXmlElement and YXmlHook. */
const XML_ELEMENT = 3
const XML_HOOK = 5
const LAST_TYPE_REF = 6

// One update is checked at a time, synchronously: module state instead of a decoder object per call.
const NOTHING = new Uint8Array(0)
let buf: Uint8Array = NOTHING
let pos = 0

const fail = (message: string): never => { throw new Error(message) }

const byte = (): number => pos < buf.length ? buf[pos++]! : fail(END)

/** lib0 readVarUint: 7 bits per byte, little end first; past 2^53 is an error. */
const varUint = (): number => {
  let num = 0
  let mult = 1
  while (pos < buf.length) {
    const r = buf[pos++]!
    num += (r & 0x7f) * mult
    if (r < 0x80) return num
    mult *= 128
    if (num > Number.MAX_SAFE_INTEGER) fail('Integer out of Range')
  }
  return fail(END)
}

/** lib0 readVarInt: sign and 6 bits in the first byte, then 7 bits per byte. */
const varInt = (): void => {
  let r = byte()
  if (r < 0x80) return
  let num = r & 0x3f
  let mult = 64
  while (pos < buf.length) {
    r = buf[pos++]!
    num += (r & 0x7f) * mult
    if (r < 0x80) return
    mult *= 128
    if (num > Number.MAX_SAFE_INTEGER) fail('Integer out of Range')
  }
  fail(END)
}

const skip = (n: number): void => { if (n > buf.length - pos) fail(END); pos += n }
/** lib0 readVarUint8Array: a length and that many bytes (ContentBinary, `any` Uint8Arrays). */
const bytes = (): void => skip(varUint())

// lib0 reads strings with a fatal UTF-8 decoder: its message, for the same bytes.
const BAD_UTF8 = 'The encoded data was not valid for encoding utf-8'
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * lib0 readVarString: a length and that many bytes of UTF-8 (ASCII is checked here, the rest natively).
 * Returns the string's length in UTF-16 units, which is the length Yjs gives a ContentString.
 */
const string = (): number => {
  const n = varUint()
  if (n > buf.length - pos) fail(END)
  const start = pos
  const end = pos + n
  pos = end
  for (let i = start; i < end; i++) {
    if (buf[i]! < 0x80) continue
    if (!isUtf8(buf.subarray(start, end))) fail(BAD_UTF8)
    let units = 0 // one per lead byte, two for a character outside the BMP (4-byte sequence)
    for (let j = start; j < end; j++) { const b = buf[j]!; if ((b & 0xc0) !== 0x80) units += b >= 0xf0 ? 2 : 1 }
    return units
  }
  return n
}

/** A string Yjs hands to JSON.parse (ContentJSON keeps the literal `undefined`). */
const json = (undefinedAllowed: boolean): void => {
  const n = varUint()
  if (n > buf.length - pos) fail(END)
  const text = utf8.decode(buf.subarray(pos, pos + n))
  pos += n
  if (!(undefinedAllowed && text === 'undefined')) JSON.parse(text)
}

/** lib0 readAny. */
const any = (): void => {
  const tag = byte()
  switch (tag) {
    case 127: case 126: case 121: case 120: return // undefined, null, false, true
    case 125: varInt(); return
    case 124: skip(4); return // float32
    case 123: case 122: skip(8); return // float64, bigint64
    case 119: string(); return
    case 118: for (let n = varUint(); n > 0; n--) { string(); any() } return // object
    case 117: for (let n = varUint(); n > 0; n--) any(); return // array
    case 116: bytes(); return // Uint8Array
    default: fail(`unknown value tag ${tag}`)
  }
}

/** Reads an Item's content; returns its length (clocks it takes), as Yjs's content classes count it. */
const content = (ref: number): number => {
  switch (ref) {
    case Ref.deleted: return varUint()
    case Ref.json: { const n = varUint(); for (let k = n; k > 0; k--) json(true); return n }
    case Ref.binary: bytes(); return 1
    case Ref.string: return string()
    case Ref.embed: json(false); return 1
    case Ref.format: string(); json(false); return 1
    case Ref.type: {
      const typeRef = varUint()
      if (typeRef === XML_ELEMENT || typeRef === XML_HOOK) string()
      else if (typeRef > LAST_TYPE_REF) fail(`unknown type ref ${typeRef}`)
      return 1
    }
    case Ref.any: { const n = varUint(); for (let k = n; k > 0; k--) any(); return n }
    case Ref.doc: {
      string() // guid
      // Yjs builds the sub-document from these options and reads `opts.shouldLoad`: null or undefined throws.
      const tag = pos < buf.length ? buf[pos]! : fail(END)
      if (tag === 126 || tag === 127) fail('sub-document options must not be null or undefined')
      any()
      return 1
    }
    default: return fail(`unknown content ref ${ref}`)
  }
}

/**
 * An ID an item refers to (origin, right origin, parent). Yjs checks that IDs of other clients exist
 * (or keeps the item pending), but follows one of the item's own client blindly: pointing at its own
 * or a later clock, which no editor can produce, makes Y.applyUpdate throw half-way through.
 */
const reference = (client: number, clock: number): void => {
  const refClient = varUint()
  const refClock = varUint()
  if (refClient === client && refClock >= clock) fail('item refers to a clock of its own client that is not before it')
}

/** Reads one struct of `client` starting at `clock`; returns its length. */
const struct = (client: number, clock: number): number => {
  const info = byte()
  const ref = info & BITS5
  // GC and Skip carry only a length. Y.applyUpdate reads any info whose low bits are 10 as a Skip,
  // Y.decodeUpdate only the byte 10, which is all Yjs writes: the stricter rule.
  const length = ref === Ref.gc || info === Ref.skip ? varUint() : item(info, ref, client, clock)
  // Yjs never writes an empty struct; its struct store cannot hold one (two structs at one clock).
  if (length === 0) fail('empty struct')
  return length
}

const item = (info: number, ref: number, client: number, clock: number): number => {
  if (info & HAS_ORIGIN) reference(client, clock)
  if (info & HAS_RIGHT_ORIGIN) reference(client, clock)
  if ((info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN)) === 0) {
    // Without origins the parent is written: a root type's name, or the ID of the item holding it.
    if (varUint() === 1) string()
    else reference(client, clock)
    if (info & HAS_PARENT_SUB) string()
  }
  return content(ref)
}

/** Throws (lib0's messages where lib0 would throw) unless `update` reads as a v1 update that applies. */
export const checkUpdateV1 = (update: Uint8Array): void => {
  buf = update
  pos = 0
  try {
    for (let clients = varUint(); clients > 0; clients--) {
      const structs = varUint()
      const client = varUint()
      let clock = varUint()
      for (let n = structs; n > 0; n--) clock += struct(client, clock)
    }
    for (let clients = varUint(); clients > 0; clients--) {
      varUint() // client
      for (let ranges = varUint(); ranges > 0; ranges--) {
        varUint() // clock
        // Yjs re-encodes ranges it cannot apply yet, and its encoder refuses an empty one (after the
        // structs were integrated): Yjs never writes one.
        if (varUint() === 0) fail('empty delete range')
      }
    }
  } finally {
    buf = NOTHING // do not keep the last update alive
  }
}
