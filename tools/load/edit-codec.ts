import * as encoding from 'lib0/encoding'

/** Yjs content ref of ContentAny (what Y.Map#set writes), info bit "parentSub present", lib0's string tag. */
const CONTENT_ANY = 8
const HAS_PARENT_SUB = 0b0010_0000
const ANY_STRING = 119

/**
 * Hand-encode the Yjs update (v1) that `doc.getMap(mapName).set(key, value)` produces for a key the
 * map has never held: one Item with no origins, parent given by root-type name, the key as
 * parentSub, ContentAny holding one string, and an empty delete set. Byte-for-byte what Yjs writes (unit-tested), at a
 * fraction of the cost of a Y.Doc transaction — so one generator process can drive thousands of
 * devices. Each such item takes exactly one clock.
 */
export const encodeMapSet = (client: number, clock: number, mapName: string, key: string, value: string): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1) // clients with structs
  encoding.writeVarUint(e, 1) // structs of this client
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, clock)
  encoding.writeUint8(e, CONTENT_ANY | HAS_PARENT_SUB)
  encoding.writeVarUint(e, 1) // parent is a root type, named by key
  encoding.writeVarString(e, mapName)
  encoding.writeVarString(e, key)
  encoding.writeVarUint(e, 1) // one value
  encoding.writeUint8(e, ANY_STRING)
  encoding.writeVarString(e, value)
  encoding.writeVarUint(e, 0) // delete set: no clients
  return encoding.toUint8Array(e)
}
