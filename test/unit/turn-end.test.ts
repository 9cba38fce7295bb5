import { describe, expect, it } from 'vitest'
import { deferRoom, deferSocket } from '../../server/sync/turn-end.js'

const busy = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* a compaction's CPU time */ } }
const nextTurns = (n: number) => new Promise<void>(resolve => {
  const step = (left: number) => left === 0 ? resolve() : setImmediate(() => step(left - 1))
  step(n)
})

describe('turn end: sockets write first, rooms compact within a time budget per turn', () => {
  it('rooms that came due together are spread over turns once one turn has spent its budget; sockets never wait behind them', async () => {
    const order: string[] = []
    const room = (name: string) => ({ runAtTurnEnd: () => { order.push(name); busy(6) } })
    for (const name of ['A', 'B', 'C']) deferRoom(room(name))
    deferSocket({ runAtTurnEnd: () => order.push('socket 1') })
    // Queued after the turn-end run: without a budget it would only run after all three rooms.
    setImmediate(() => {
      order.push('other work')
      deferSocket({ runAtTurnEnd: () => order.push('socket 2') })
    })
    await nextTurns(6)
    expect(order).toEqual(['socket 1', 'A', 'other work', 'socket 2', 'B', 'C'])
  })

  it('rooms that fit in the budget all run in the same turn', async () => {
    const order: string[] = []
    for (const name of ['A', 'B', 'C']) deferRoom({ runAtTurnEnd: () => order.push(name) })
    setImmediate(() => order.push('other work'))
    await nextTurns(3)
    expect(order).toEqual(['A', 'B', 'C', 'other work'])
  })
})
