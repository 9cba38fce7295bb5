/** Retry delays of a failed batch: doubled per failure, from the first to the last. */
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000

export interface BatchQueueOptions<Op> {
  /** Batch window: queued operations are written at most this many ms after the first of them. */
  flushIntervalMs: number
  /** A batch is written at once when this many operations are queued. */
  maxBatchOps: number
  /**
   * Writes one batch, whole or not at all. A rejection keeps its operations, in order, ahead of
   * anything queued since, and retries them after a backoff.
   */
  write: (ops: Op[]) => Promise<void>
  /** Told of each failed batch before its retry; `retryMs` is the backoff. */
  onError: (err: Error, ops: number, retryMs: number) => void
}

/**
 * The write queue of a document store: operations queued by the event loop and written in batches,
 * one batch at a time and in order, so thousands of updates per second cost a handful of writes. A
 * failed batch is retried with backoff ahead of what was queued since; nothing is dropped.
 */
export class BatchQueue<Op> {
  private queue: Op[] = []
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> | null = null
  private retryMs = RETRY_MIN_MS
  private stopped = false
  /** Operations ever queued, and how many of the oldest of them are written. */
  private queuedOps = 0
  private writtenOps = 0
  /** Callers of `written`, resolved once `writtenOps` reaches theirs. */
  private waiters: Array<{ ops: number, resolve: () => void }> = []

  constructor (private readonly opts: BatchQueueOptions<Op>) {}

  /** Operations queued and not yet written. */
  get unwritten (): number { return this.queuedOps - this.writtenOps }

  /** The current backoff: what the next retry of a failing batch waits. */
  get retryDelayMs (): number { return this.retryMs }

  /** Queues `op`; a full batch goes at once (unless one is being written or retried), otherwise within the window. */
  push (op: Op): void {
    this.queue.push(op)
    this.queuedOps++
    if (this.queue.length >= this.opts.maxBatchOps && !this.writing && this.retryMs === RETRY_MIN_MS) void this.writeBatch().catch(() => {})
    else this.schedule(this.opts.flushIntervalMs)
  }

  /** Resolves once every operation queued so far is written (it never rejects: failed batches are retried). */
  written (): Promise<void> {
    const ops = this.queuedOps
    if (this.writtenOps >= ops) return Promise.resolve()
    return new Promise(resolve => this.waiters.push({ ops, resolve }))
  }

  /**
   * Writes now what is queued, and resolves once every operation queued before the call is written;
   * rejects if a batch it waits on fails (its operations stay queued and are retried). Operations
   * queued later do not hold it up: under steady load the queue is never empty.
   */
  async flush (): Promise<void> {
    const target = this.queuedOps
    while (this.writtenOps < target) {
      if (this.writing) await this.writing.catch(() => {})
      else await this.writeBatch()
    }
  }

  /** No more timed writes (`flush` still writes). */
  stop (): void {
    this.stopped = true
    if (this.timer) { clearTimeout(this.timer); this.timer = null }
  }

  private schedule (delayMs: number): void {
    if (this.timer || this.writing || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      void this.writeBatch().catch(() => {})
    }, delayMs)
  }

  private writeBatch (): Promise<void> {
    // One batch at a time keeps operations in order across batches.
    if (this.writing) return this.writing.then(() => this.writeBatch())
    if (this.timer) { clearTimeout(this.timer); this.timer = null }
    const ops = this.queue
    this.queue = []
    // A failed batch goes back in front of the queue, so once this one is written every operation
    // queued so far is.
    const upTo = this.queuedOps
    if (ops.length === 0) { this.settle(upTo); return Promise.resolve() }
    const write = this.opts.write(ops).then(
      () => {
        this.retryMs = RETRY_MIN_MS
        this.settle(upTo)
      },
      (err: Error) => {
        this.queue = ops.concat(this.queue)
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS)
        this.opts.onError(err, ops.length, this.retryMs)
        throw err
      }
    )
    this.writing = write.finally(() => {
      this.writing = null
      if (this.queue.length === 0) return
      if (this.queue.length >= this.opts.maxBatchOps && this.retryMs === RETRY_MIN_MS) void this.writeBatch().catch(() => {})
      else this.schedule(this.retryMs > RETRY_MIN_MS ? this.retryMs : this.opts.flushIntervalMs)
    })
    // A failed batch is reported and retried above; unobserved, this rejection would end the process.
    this.writing.catch(() => {})
    return write
  }

  private settle (upTo: number): void {
    this.writtenOps = upTo
    if (this.waiters.length === 0) return
    const still: typeof this.waiters = []
    for (const w of this.waiters) {
      if (this.writtenOps >= w.ops) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }
}
