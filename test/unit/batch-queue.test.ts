import { describe, expect, it } from 'vitest'
import { BatchQueue } from '../../server/storage/batch-queue.js'

/** A queue over a writer the test controls: each batch waits until the test settles it. */
const controlled = (opts: { maxBatchOps?: number, flushIntervalMs?: number } = {}) => {
  const batches: Array<{ ops: number[], ok: () => void, fail: (err: Error) => void }> = []
  const written: number[] = []
  const errors: Array<{ ops: number, retryMs: number }> = []
  let arrived: (() => void) | null = null
  const queue = new BatchQueue<number>({
    flushIntervalMs: opts.flushIntervalMs ?? 60_000,
    maxBatchOps: opts.maxBatchOps ?? 1000,
    write: ops => new Promise<void>((resolve, reject) => {
      batches.push({ ops: [...ops], ok: () => { written.push(...ops); resolve() }, fail: reject })
      arrived?.()
    }),
    onError: (_err, ops, retryMs) => { errors.push({ ops, retryMs }) }
  })
  /** Resolves with the `n`th batch (from 1) once the queue has handed it to the writer. */
  const batch = async (n: number) => {
    while (batches.length < n) await new Promise<void>(resolve => { arrived = resolve })
    return batches[n - 1]!
  }
  return { queue, batch, written, errors }
}

describe('BatchQueue', () => {
  it('writes one batch at a time, in order, and flush waits only for what was queued before it', async () => {
    const { queue, batch, written } = controlled()
    queue.push(1)
    queue.push(2)
    const first = queue.flush()
    const b1 = await batch(1)
    expect(b1.ops).toEqual([1, 2])
    queue.push(3)
    const second = queue.flush()
    // 3 waits for the batch in flight: never two batches at once.
    expect(queue.unwritten).toBe(3)
    b1.ok()
    await first
    const b2 = await batch(2)
    expect(b2.ops).toEqual([3])
    b2.ok()
    await second
    expect(written).toEqual([1, 2, 3])
    expect(queue.unwritten).toBe(0)
  })

  it('a failed batch is retried ahead of what was queued since, with a growing backoff, and nothing is dropped', async () => {
    const { queue, batch, written, errors } = controlled()
    queue.push(1)
    const flushed = queue.flush()
    const b1 = await batch(1)
    queue.push(2)
    const done = queue.written()
    b1.fail(new Error('disk full'))
    await expect(flushed).rejects.toThrow('disk full')
    expect(errors).toEqual([{ ops: 1, retryMs: 100 }])
    // The retry holds the failed operation first, then the later one.
    const retried = queue.flush()
    const b2 = await batch(2)
    expect(b2.ops).toEqual([1, 2])
    b2.ok()
    await retried
    await done
    expect(written).toEqual([1, 2])
    expect(queue.retryDelayMs).toBe(50)
  })

  it('a full queue waits out the backoff of a failing batch instead of retrying at once', async () => {
    const { queue, batch } = controlled({ maxBatchOps: 2 })
    queue.push(1)
    const flushed = queue.flush()
    ;(await batch(1)).fail(new Error('database down'))
    await expect(flushed).rejects.toThrow('database down')
    queue.push(2)
    queue.push(3)
    // Full, but the queue is backing off: no batch was handed to the writer (it would be, synchronously).
    expect((await Promise.race([batch(2), Promise.resolve(null)]))).toBeNull()
    const retried = queue.flush()
    const b2 = await batch(2)
    expect(b2.ops).toEqual([1, 2, 3])
    b2.ok()
    await retried
  })

  it('a full batch goes at once, without waiting for the window', async () => {
    const { queue, batch } = controlled({ maxBatchOps: 3 })
    for (const op of [1, 2, 3]) queue.push(op)
    expect((await batch(1)).ops).toEqual([1, 2, 3])
  })

  it('the window writes what is queued without a flush', async () => {
    const { queue, batch } = controlled({ flushIntervalMs: 1 })
    queue.push(1)
    const b1 = await batch(1)
    expect(b1.ops).toEqual([1])
    b1.ok()
    await queue.written()
    queue.stop()
  })
})
