import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { CloseCode, encodeUpdate } from '../../shared/protocol.js'

/**
 * Malformed or hostile sync messages and the close code (and reason) the server answers each with.
 * One list for every deployment shape: a single node (test/integration/sync-bad-input.test.ts) and a
 * cluster of node processes (test/cluster/bad-input.test.ts) must answer them alike.
 */
export interface BadFrame {
  name: string
  /** `maxMessageBytes`: the server's --max-message-bytes (the size case goes past it). */
  bytes: (maxMessageBytes: number) => Uint8Array
  code: number
  reason?: RegExp
}

export const frame = (...parts: ((e: encoding.Encoder) => void)[]) => {
  const e = encoding.createEncoder()
  for (const p of parts) p(e)
  return encoding.toUint8Array(e)
}

// The room broadcasts an update as soon as it passes the check and applies it after the turn's
// writes: the rootText cases read as far as Y.decodeUpdate is concerned (or fail only inside a value),
// and would throw inside Y.applyUpdate. None may reach the other device.
const rootText = (write: (e: encoding.Encoder) => void) => encodeUpdate(frame(e => {
  for (const n of [1, 2, 77, 0]) encoding.writeVarUint(e, n) // client 77: two structs from clock 0
  encoding.writeUint8(e, 4); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 't') // string into root text 't'
  encoding.writeVarString(e, 'EV') // clocks 0 and 1: valid on its own
  write(e)
  encoding.writeVarUint(e, 0)
}))

const truncatedUpdate = () => {
  const d = new Y.Doc()
  d.getText('t').insert(0, 'EVIL')
  d.getText('t').delete(0, 2)
  const full = Y.encodeStateAsUpdate(d)
  return encodeUpdate(full.subarray(0, full.length - 2))
}

const deepValue = () => {
  const e = encoding.createEncoder()
  for (const n of [1, 1, 77, 0]) encoding.writeVarUint(e, n) // one client, one struct
  encoding.writeUint8(e, 8 | 0b0010_0000) // ContentAny under a root map key
  encoding.writeVarUint(e, 1); encoding.writeVarString(e, 't'); encoding.writeVarString(e, 'deep')
  encoding.writeVarUint(e, 1)
  for (let i = 0; i < 400_000; i++) { encoding.writeUint8(e, 117); encoding.writeVarUint(e, 1) } // arrays in arrays
  encoding.writeUint8(e, 126)
  encoding.writeVarUint(e, 0)
  return encodeUpdate(encoding.toUint8Array(e))
}

export const BAD_FRAMES: BadFrame[] = [
  { name: 'unknown message type → 4400', code: CloseCode.badMessage, bytes: () => frame(e => encoding.writeVarUint(e, 42)) },
  { name: 'unknown sync sub-type → 4400', code: CloseCode.badMessage, bytes: () => frame(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 9) }) },
  { name: 'truncated varint → 4400', code: CloseCode.badMessage, bytes: () => Uint8Array.of(0x80, 0x80) },
  { name: 'length prefix longer than the frame → 4400', code: CloseCode.badMessage, bytes: () => frame(e => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 5000) }) },
  { name: 'empty frame → 4400', code: CloseCode.badMessage, bytes: () => new Uint8Array(0) },
  { name: 'garbage Yjs update → 4400 and nothing persisted', code: CloseCode.badMessage, bytes: () => encodeUpdate(Uint8Array.from([1, 200, 3, 77, 9, 9, 9, 250, 250, 250])) },
  { name: 'truncated (half-applicable) Yjs update → 4400, document unchanged', code: CloseCode.badMessage, reason: /invalid update/, bytes: truncatedUpdate },
  {
    name: 'an update that refers forward in its own client (Yjs throws half-way) → 4400, not broadcast, nothing applied',
    code: CloseCode.badMessage,
    reason: /refers to a clock of its own client/,
    bytes: () => rootText(e => {
      encoding.writeUint8(e, 4 | 0b1000_0000); encoding.writeVarUint(e, 77); encoding.writeVarUint(e, 5) // origin 77:5, not yet written
      encoding.writeVarString(e, 'IL')
    })
  },
  {
    name: 'a string that is not UTF-8 → 4400, not broadcast, nothing applied',
    code: CloseCode.badMessage,
    reason: /utf-8/,
    bytes: () => rootText(e => {
      encoding.writeUint8(e, 4 | 0b1000_0000); encoding.writeVarUint(e, 77); encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, new Uint8Array([0x49, 0xff])) // 'I' and a byte UTF-8 never has
    })
  },
  {
    name: 'an embed that is not JSON → 4400, not broadcast, nothing applied',
    code: CloseCode.badMessage,
    reason: /JSON/,
    bytes: () => rootText(e => {
      encoding.writeUint8(e, 5 | 0b1000_0000); encoding.writeVarUint(e, 77); encoding.writeVarUint(e, 1)
      encoding.writeVarString(e, '{"embed":') // ContentEmbed
    })
  },
  { name: 'a value nested too deep for the stack → 4400, server and document unharmed', code: CloseCode.badMessage, reason: /invalid update/, bytes: deepValue },
  { name: 'message over the size limit → 1009 from its frame header, unread', code: CloseCode.messageTooLarge, bytes: max => encodeUpdate(new Uint8Array(max + 1000)) }
]

/** Document names the server refuses with 4404. */
export const BAD_DOC_NAMES = ['bad!name', '-leading', 'a'.repeat(129), '%E0%A4%A', 'sp%20ace', '..%2Fetc']
