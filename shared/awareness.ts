/**
 * The awareness update codec of y-protocols (y-protocols/awareness: `encodeAwarenessUpdate`,
 * `applyAwarenessUpdate`), read entry by entry: `[count, (clientID, clock, state as JSON text)*]`, all
 * lib0 varUints and varStrings. The server reads it to see whose presence an update changes.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/** One client's presence at `clock`; `state` is the JSON text as sent, `removed` when it is `null`. */
export interface AwarenessEntry { clientID: number, clock: number, state: string, removed: boolean }

/** Throws, as applying it would, on an update that is cut short or whose state is not JSON. */
export const decodeAwarenessUpdate = (update: Uint8Array): AwarenessEntry[] => {
  const d = decoding.createDecoder(update)
  const entries: AwarenessEntry[] = []
  for (let n = decoding.readVarUint(d); n > 0; n--) {
    const clientID = decoding.readVarUint(d)
    const clock = decoding.readVarUint(d)
    const state = decoding.readVarString(d)
    entries.push({ clientID, clock, state, removed: JSON.parse(state) === null })
  }
  return entries
}

export const encodeAwarenessEntries = (entries: AwarenessEntry[]): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  for (const { clientID, clock, state } of entries) {
    encoding.writeVarUint(e, clientID)
    encoding.writeVarUint(e, clock)
    encoding.writeVarString(e, state)
  }
  return encoding.toUint8Array(e)
}
