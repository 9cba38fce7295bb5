import { mergeUpdates } from '../../yjs/merge-updates.js'
import type { Level } from 'level'
import type { Claim, Coverage, DocStore, StoredDoc } from '../doc-store.js'
import type { Logger } from '../../observe/logger.js'
import type { Metrics } from '../../observe/metrics.js'
import { BatchQueue } from '../batch-queue.js'

type Bytes = Uint8Array

export interface LevelDocStoreOptions {
  /** Batch window: queued updates are written at most this many ms after the first of them. */
  flushIntervalMs: number
  /** A batch is written at once when this many operations are queued. */
  maxBatchOps: number
  /** fsync each batch (survives power loss, not just a process crash) at the cost of latency. */
  fsync: boolean
  logger: Logger
  metrics?: Metrics
}

/**
 * A queued write. A log entry carries its document's log and sequence number instead of its key: the
 * key string is built when the batch is, so the queue holds one small object per update, not three
 * strings that outlive a young-generation GC while a batch is being written.
 */
type LogPut = { type: 'log'; log: DocLog; seq: number; value: Bytes; skip?: boolean }
type Op = LogPut | { type: 'put'; key: string; value: Bytes; skip?: boolean } | { type: 'del'; key: string; skip?: boolean }

interface DocLog {
  /** `logPrefix(name)`, kept for the keys of its entries. */
  prefix: string
  firstSeq: number
  nextSeq: number
  /** Log puts of this document still in the queue (not yet handed to a batch), oldest first. */
  queued: LogPut[]
}

// Keys: `s!<doc>` holds the snapshot, `u!<doc>!<seq>` one logged update, all under the `!docs!`
// prefix, which is exactly how level's `db.sublevel('docs')` lays out keys. Prefixed by hand on the
// root database because a sublevel batch validates and encodes every operation twice (once in the
// sublevel, once in its parent). Doc names never contain `!` (shared/protocol.ts), and fixed-width hex
// keeps the log in numeric order.
const ROOT_PREFIX = '!docs!'
const snapshotKey = (name: string) => `${ROOT_PREFIX}s!${name}`
// The first log sequence number that is not in the snapshot (absent = 0). Written in the same batch as
// the snapshot, so a compaction is one put pair instead of a delete per merged entry built on the event
// loop. Entries below the watermark are ignored by `load` and removed afterwards by an asynchronous
// range delete.
const watermarkKey = (name: string) => `${ROOT_PREFIX}w!${name}`
const logPrefix = (name: string) => `${ROOT_PREFIX}u!${name}!`
const hexSeq = (seq: number) => seq.toString(16).padStart(12, '0')
const logKey = (name: string, seq: number) => logPrefix(name) + hexSeq(seq)
const encodeSeq = (seq: number): Bytes => new TextEncoder().encode(hexSeq(seq))
const decodeSeq = (b: Bytes): number => parseInt(new TextDecoder().decode(b), 16) || 0

/**
 * LevelDB document store. Appends are queued and written as one batch per window (default 10 ms), so
 * thousands of edits per second cost a handful of LevelDB writes. A process crash loses at most the
 * updates of the current window (the clients still hold them and resend on reconnect); `flush()` on
 * graceful shutdown loses nothing.
 */
export class LevelDocStore implements DocStore {
  private logs = new Map<string, DocLog>()
  private readonly queue: BatchQueue<Op>
  /** Logs with entries in `queued`, reset when the queue is handed to a batch. */
  private queuedLogs = new Set<DocLog>()
  /** Range deletes that wait for the batch holding their compaction's snapshot and watermark. */
  private clearsAfterBatch: { name: string, from: number, to: number }[] = []
  private clearing = new Set<Promise<void>>()

  constructor (private readonly db: Level<string, Bytes>, private readonly opts: LevelDocStoreOptions) {
    this.queue = new BatchQueue<Op>({
      flushIntervalMs: opts.flushIntervalMs,
      maxBatchOps: opts.maxBatchOps,
      write: ops => this.writeBatch(ops),
      onError: (err, ops) => opts.logger.error({ err: err.message, ops }, 'storage batch failed, will retry')
    })
  }

  async load (name: string): Promise<StoredDoc> {
    const [snapshot, mark] = await this.db.getMany([snapshotKey(name), watermarkKey(name)])
    const watermark = mark ? decodeSeq(mark) : 0
    const prefix = logPrefix(name)
    const updates: Bytes[] = snapshot ? [snapshot] : []
    let firstSeq = -1
    let lastSeq = watermark - 1
    let logBytes = 0
    if (watermark > 0) {
      // Entries a crash left below the watermark are already in the snapshot: remove them.
      const stale = await this.db.keys({ gt: prefix, lt: logKey(name, watermark), limit: 1 }).all()
      if (stale.length > 0) this.clearRange(name, 0, watermark)
    }
    for await (const [key, value] of this.db.iterator({ gte: logKey(name, watermark), lt: prefix + '~' })) {
      const seq = parseInt(key.slice(prefix.length), 16)
      if (firstSeq < 0) firstSeq = seq
      lastSeq = seq
      logBytes += value.byteLength
      updates.push(value)
    }
    // A document may be reloaded while writes for its previous load are still queued: continue its seq.
    const known = this.logs.get(name)
    const nextSeq = Math.max(lastSeq + 1, known?.nextSeq ?? 0)
    this.logs.set(name, { prefix, firstSeq: firstSeq < 0 ? nextSeq : firstSeq, nextSeq, queued: [] })
    return {
      update: updates.length === 0 ? null : mergeUpdates(updates, err => this.opts.logger.error({ doc: name, err: err.message }, 'stored updates could not be applied; merged as bytes')),
      snapshotBytes: snapshot?.byteLength ?? 0,
      logEntries: updates.length - (snapshot ? 1 : 0),
      logBytes,
      position: '',
      keys: []
    }
  }

  append (name: string, update: Bytes): string {
    const log = this.tracked(name)
    const seq = log.nextSeq++
    const op: LogPut = { type: 'log', log, seq, value: update }
    log.queued.push(op)
    this.queuedLogs.add(log)
    this.queue.push(op)
    return ''
  }

  /** One process writes the database: always granted. */
  async claimCompaction (): Promise<Claim> { return { token: 0, snapshot: null } }

  compact (name: string, snapshot: Bytes, cover: Coverage = {}): Promise<boolean> {
    const log = this.tracked(name)
    const pending = cover.pending ?? 0
    // The first log entry the snapshot does not cover: the watermark written with it.
    const upTo = log.nextSeq - pending
    if (!Number.isInteger(pending) || pending < 0 || upTo < log.firstSeq) throw new Error(`compaction of ${name} covers fewer updates than its last one`)
    // Queued log writes the snapshot covers are skipped instead of written; the rest stay queued.
    // Entries already handed to LevelDB below the new watermark are range-deleted once the batch
    // carrying the snapshot is written.
    const handedFrom = log.firstSeq
    const handedEnd = Math.min(log.queued[0]?.seq ?? log.nextSeq, upTo)
    let covered = 0
    while (covered < log.queued.length && log.queued[covered]!.seq < upTo) log.queued[covered++]!.skip = true
    log.queued = log.queued.slice(covered)
    this.queue.push({ type: 'put', key: snapshotKey(name), value: snapshot })
    this.queue.push({ type: 'put', key: watermarkKey(name), value: encodeSeq(upTo) })
    if (handedFrom < handedEnd) this.clearsAfterBatch.push({ name, from: handedFrom, to: handedEnd })
    log.firstSeq = upTo
    this.opts.metrics?.compactions.inc()
    return this.queue.written().then(() => true)
  }

  release (name: string): void {
    this.logs.delete(name)
  }

  async destroy (name: string): Promise<void> {
    if (this.logs.has(name)) throw new Error(`document ${name} destroyed while loaded`)
    await this.flush() // nothing of it may land after the delete
    await this.writeOps([snapshotKey(name), watermarkKey(name)].map(key => ({ type: 'del' as const, key })))
    const prefix = logPrefix(name)
    await this.db.clear({ gt: prefix, lt: prefix + '~' })
  }

  /** Delete log entries [from, to) of a document, off the event loop (LevelDB iterates natively). */
  private clearRange (name: string, from: number, to: number): void {
    const p = this.db.clear({ gte: logKey(name, from), lt: logKey(name, to) }).catch((err: Error) => {
      // Harmless: load ignores entries below the watermark, and the next load retries.
      this.opts.logger.warn({ doc: name, err: err.message }, 'clearing compacted log entries failed')
    })
    this.clearing.add(p)
    void p.finally(() => this.clearing.delete(p))
  }

  /**
   * Resolves once every operation queued before the call is written (rejects if its batch fails), and
   * the range deletes of written compactions are done.
   */
  async flush (): Promise<void> {
    await this.queue.flush()
    if (this.clearing.size > 0) await Promise.all([...this.clearing])
  }

  async close (): Promise<void> {
    await this.flush()
    this.queue.stop()
  }

  private tracked (name: string): DocLog {
    const log = this.logs.get(name)
    if (!log) throw new Error(`document ${name} written before it was loaded`)
    return log
  }

  /**
   * One LevelDB batch through the chained-batch API: `db.batch(array)` clones, validates and re-encodes
   * every operation object first; the chained batch hands each op to the native batch as it comes.
   * Async, so a closed database rejects.
   */
  private async writeOps (ops: Op[]): Promise<void> {
    const batch = this.db.batch()
    for (const op of ops) {
      if (op.type === 'log') batch.put(op.log.prefix + hexSeq(op.seq), op.value)
      else if (op.type === 'put') batch.put(op.key, op.value)
      else batch.del(op.key)
    }
    await batch.write({ sync: this.opts.fsync } as object)
  }

  /**
   * The queue's batch: log puts a compaction covered since they were queued are dropped, and the range
   * deletes of the compactions in it run once it is written (with it again if it fails).
   */
  private async writeBatch (queued: Op[]): Promise<void> {
    const ops = queued.filter(op => !op.skip)
    const clears = this.clearsAfterBatch
    this.clearsAfterBatch = []
    for (const log of this.queuedLogs) log.queued = []
    this.queuedLogs.clear()
    if (ops.length > 0) {
      const started = process.hrtime.bigint()
      try {
        await this.writeOps(ops)
      } catch (err) {
        this.clearsAfterBatch = clears.concat(this.clearsAfterBatch)
        throw err
      }
      this.opts.metrics?.persistLatency.observe(Number(process.hrtime.bigint() - started) / 1e9)
      this.opts.metrics?.persistBatchSize.observe(ops.length)
    }
    for (const c of clears) this.clearRange(c.name, c.from, c.to)
  }
}
