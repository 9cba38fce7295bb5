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

  it('drops the first updates a compaction merged, keeps the rest in order, and leaves views handed out as they were', () => {
    const log = new UpdateLog()
    const handed = Array.from({ length: 10 }, (_, i) => log.push(bytes(i + 1, i + 1)))
    log.dropFirst(4)
    expect(log.length).toBe(6)
    expect(log.all()).toEqual(Array.from({ length: 6 }, (_, i) => bytes(i + 5, i + 5)))
    log.push(bytes(3, 99))
    expect(log.at(6)).toEqual(bytes(3, 99))
    expect(handed.map(v => v[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    log.dropFirst(0)
    expect(log.length).toBe(7)
    log.dropFirst(7)
    expect(log.length).toBe(0)
    expect(log.all()).toEqual([])
  })
})
