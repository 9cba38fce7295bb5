import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { encodeUpdate } from '../../shared/protocol.js'

describe('update frames', () => {
  it('are the bytes lib0 writes for a sync update, at every length boundary of the varUint', () => {
    for (const n of [0, 1, 127, 128, 129, 16383, 16384, 2097151, 2097152]) {
      const update = new Uint8Array(n).map((_, i) => i & 0xff)
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 0)
      encoding.writeVarUint(e, 2)
      encoding.writeVarUint8Array(e, update)
      expect(Buffer.from(encodeUpdate(update)).equals(Buffer.from(encoding.toUint8Array(e)))).toBe(true)
    }
  })
})
