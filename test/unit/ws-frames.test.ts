import { isUtf8 } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { FrameReader } from '../../server/transport/ws-reader.js'
import { encodeBinaryFrames, encodeCloseFrame } from '../../server/transport/ws-frames.js'
import { clientFrame } from '../helpers/tcp-ws.js'

/** A reader that records what it is told. */
class Recorder extends FrameReader {
  readonly events: string[] = []
  readonly messages: Buffer[] = []
  constructor (private readonly limit = 1 << 20) { super() }
  protected get maxPayload () { return this.limit }
  protected onMessage (data: Buffer, isBinary: boolean) { this.messages.push(Buffer.from(data)); this.events.push(isBinary ? 'binary' : 'text') }
  protected onPing (payload: Buffer) { this.events.push(`ping:${payload.toString()}`) }
  protected onPong () { this.events.push('pong') }
  protected onCloseFrame (code: number) { this.events.push(`close:${code}`) }
  protected onFrameError (code: number, reason: string) { this.events.push(`error:${code}:${reason}`) }
}

describe('frame reader (client frames, RFC 6455 §5)', () => {
  it('reads every message whole and in order however the bytes are chunked (0 B to 70 KB, all three length forms)', () => {
    const sizes = [0, 1, 125, 126, 127, 65535, 65536, 70_000, 3]
    const messages = sizes.map((n, i) => Buffer.alloc(n, i + 1))
    const wire = Buffer.concat([
      ...messages.slice(0, 4).map(m => clientFrame(0x2, m)),
      clientFrame(0x9, Buffer.from('hi')), // a ping between messages
      ...messages.slice(4).map(m => clientFrame(0x2, m))
    ])
    let seed = 11
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    for (const maxChunk of [1, 2, 3, 7, 100, 5000, wire.length]) {
      const r = new Recorder()
      for (let at = 0; at < wire.length;) {
        const n = 1 + Math.floor(rand() * maxChunk)
        r.read(Buffer.from(wire.subarray(at, at + n))) // a copy, as a socket hands out its own buffers
        at += n
      }
      expect(r.messages.map(m => m.length), `chunks up to ${maxChunk} bytes`).toEqual(sizes)
      r.messages.forEach((m, i) => expect(m.equals(messages[i]!)).toBe(true))
      expect(r.events[4]).toBe('ping:hi')
    }
  })

  it('a message over the limit ends reading with 1009 from its header alone, and nothing after it is read', () => {
    const r = new Recorder(1000)
    const header = clientFrame(0x2, Buffer.alloc(1001)).subarray(0, 8) // the payload never arrives
    r.read(Buffer.concat([clientFrame(0x2, Buffer.from('ok')), header]))
    r.read(clientFrame(0x2, Buffer.from('after')))
    expect(r.events).toEqual(['binary', 'error:1009:message too big'])
  })

  it('a close frame ends reading; its code is passed on (1005 when it has none)', () => {
    const withCode = new Recorder()
    const payload = Buffer.from([0x0f, 0xa0, 0x62, 0x79, 0x65]) // 4000 "bye"
    withCode.read(Buffer.concat([clientFrame(0x8, payload), clientFrame(0x2, Buffer.from('late'))]))
    expect(withCode.events).toEqual(['close:4000'])
    const bare = new Recorder()
    bare.read(clientFrame(0x8))
    expect(bare.events).toEqual(['close:1005'])
  })
})

describe('server frames', () => {
  it('a close reason longer than 123 bytes is cut on a character boundary', () => {
    const reason = 'é'.repeat(100) // 200 bytes of 2-byte characters
    const frame = encodeCloseFrame(4400, reason)
    expect(frame[0]).toBe(0x88)
    expect(frame[1]).toBeLessThanOrEqual(125)
    const text = frame.subarray(4)
    expect(text.length).toBe(122) // 123 would split a character
    expect(isUtf8(text)).toBe(true)
    expect(reason.startsWith(text.toString())).toBe(true)
    expect([...encodeCloseFrame(null)]).toEqual([0x88, 0])
  })

  it('binary frames use the shortest length form', () => {
    const out = encodeBinaryFrames([new Uint8Array(125), new Uint8Array(126), new Uint8Array(65536)])
    expect([out[0], out[1]]).toEqual([0x82, 125])
    expect([out[127], out[128], out.readUInt16BE(129)]).toEqual([0x82, 126, 126])
    const third = 127 + 4 + 126
    expect([out[third], out[third + 1], out.readUInt32BE(third + 6)]).toEqual([0x82, 127, 65536])
  })
})
