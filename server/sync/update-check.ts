/**
 * Checks that a Yjs update (v1, what y-websocket sends) decodes completely, without building it.
 *
 * Why this exists: Y.applyUpdate reads and integrates every struct before it reads the delete set, so
 * an update cut short inside its delete set would be half-applied. The server therefore has to know an
 * update decodes before applying it. Y.decodeUpdate answered that by building every struct (Items,
 * IDs, contents, a Map per client): ~0.9 KB of garbage and 6–7 % of the main thread's busy time per
 * edit at 10k edits/s, for an update that Y.applyUpdate then decodes again. Yjs has no cheaper check,
 * so this walks the same bytes with the same rules (lib0's varints and `any` encoding, Yjs's struct
 * layout from `readClientsStructRefs`/`readItemContent`/`readDeleteSet`) and allocates nothing.
 *
 * Contract, fuzz-tested against Y.decodeUpdate in test/unit/update-check.test.ts: it never refuses an
 * update that Y.decodeUpdate reads, and it refuses every update whose bytes run out or whose varints
 * overflow, wherever that happens. It does not parse JSON or build sub-documents: a bad value there
 * makes Y.applyUpdate throw while it reads the structs, before it integrates any (the room then closes
 * the sender with 4400).
 */

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
const string = (): void => skip(varUint())

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
    case 116: string(); return // Uint8Array: same layout as a string
    default: fail(`unknown value tag ${tag}`)
  }
}

const content = (ref: number): void => {
  switch (ref) {
    case Ref.deleted: varUint(); return
    case Ref.json: for (let n = varUint(); n > 0; n--) string(); return
    case Ref.binary: case Ref.string: case Ref.embed: string(); return
    case Ref.format: string(); string(); return
    case Ref.type: {
      const typeRef = varUint()
      if (typeRef === XML_ELEMENT || typeRef === XML_HOOK) string()
      else if (typeRef > LAST_TYPE_REF) fail(`unknown type ref ${typeRef}`)
      return
    }
    case Ref.any: for (let n = varUint(); n > 0; n--) any(); return
    case Ref.doc: string(); any(); return
    default: fail(`unknown content ref ${ref}`)
  }
}

const struct = (): void => {
  const info = byte()
  const ref = info & BITS5
  // GC and Skip carry only a length. Y.applyUpdate reads any info whose low bits are 10 as a Skip,
  // Y.decodeUpdate only the byte 10, which is all Yjs writes: the stricter rule, as before this check.
  if (ref === Ref.gc || info === Ref.skip) { varUint(); return }
  if (info & HAS_ORIGIN) { varUint(); varUint() }
  if (info & HAS_RIGHT_ORIGIN) { varUint(); varUint() }
  if ((info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN)) === 0) {
    // Without origins the parent is written: a root type's name, or the ID of the item holding it.
    if (varUint() === 1) string()
    else { varUint(); varUint() }
    if (info & HAS_PARENT_SUB) string()
  }
  content(ref)
}

/** Throws (lib0's messages where lib0 would throw) unless `update` decodes as a v1 update. */
export const checkUpdateV1 = (update: Uint8Array): void => {
  buf = update
  pos = 0
  try {
    for (let clients = varUint(); clients > 0; clients--) {
      let structs = varUint()
      varUint() // client
      varUint() // first clock
      for (; structs > 0; structs--) struct()
    }
    for (let clients = varUint(); clients > 0; clients--) { // delete set
      varUint() // client
      for (let ranges = varUint(); ranges > 0; ranges--) { varUint(); varUint() } // clock, length
    }
  } finally {
    buf = NOTHING // do not keep the last update alive
  }
}
