import { describe, expect, it } from 'vitest'
import { UpdateLog } from '../../server/sync/update-log.js'

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

describe('a room\'s update log', () => {
  it('keeps copies of the updates in order, in one buffer', () => {
    const log = new UpdateLog()
    const input = bytes(10, 1)
    log.push(input)
    input.fill(9) // the caller's buffer (a socket's read buffer) is reused
    for (let i = 2; i <= 100; i++) log.push(bytes(i, i))
    expect(log.length).toBe(100)
    expect(log.at(0)).toEqual(bytes(10, 1))
    expect(log.at(41)).toEqual(bytes(42, 42))
    expect(log.all().map(u => u.byteLength)).toEqual([10, ...Array.from({ length: 99 }, (_, i) => i + 2)])
    expect(new Set(log.all().map(u => u.buffer)).size).toBe(1)
  })

  it('never rewrites what a view handed out reads, across growth and clear', () => {
    const log = new UpdateLog()
    const first = log.push(bytes(200, 7)) // the store keeps this view until its batch is written
    for (let i = 0; i < 50; i++) log.push(bytes(100, 3)) // grows: copies into new buffers
    log.clear()
    expect(log.length).toBe(0)
    expect(log.all()).toEqual([])
    log.push(bytes(200, 5))
    expect(first).toEqual(bytes(200, 7))
    expect(log.at(0)).toEqual(bytes(200, 5))
  })
})
