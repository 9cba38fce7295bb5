import type pg from 'pg'
import { mergeUpdates } from '../../yjs/merge-updates.js'
import type { DocStore, StoredDoc } from '../doc-store.js'
import type { Logger } from '../../observe/logger.js'
import type { Metrics } from '../../observe/metrics.js'
import { inTransaction } from './pool.js'

type Bytes = Uint8Array

export interface PostgresDocStoreOptions {
  /** Batch window: queued updates are written at most this many ms after the first of them. */
  flushIntervalMs: number
  /** A batch is written at once when this many operations are queued. */
  maxBatchOps: number
  logger: Logger
  metrics?: Metrics
}

interface Append { kind: 'append', name: string, seq: number, data: Bytes, skip: boolean }
interface Compaction { kind: 'compact', name: string, snapshot: Bytes, watermark: number }
type Op = Append | Compaction

interface DocLog {
  nextSeq: number
  /** Appends of this document still in the queue (not yet handed to a batch), oldest first. */
  queued: Append[]
}

/** Snapshot rows per multi-row INSERT: PostgreSQL takes at most 65535 parameters per statement. */
const MAX_SNAPSHOT_ROWS = 10_000
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5000
/** Attempts `close()` makes to write what is queued before it gives up and reports what is lost. */
const CLOSE_ATTEMPTS = 5

// The snapshot row (seq -1) and then the log from the watermark on, in one statement: one consistent
// view even while another batch commits.
const LOAD_SQL = `
  SELECT -1::bigint AS seq, snapshot AS data, watermark FROM doc_snapshots WHERE name = $1
  UNION ALL
  SELECT seq, data, NULL FROM doc_updates
  WHERE name = $1 AND seq >= COALESCE((SELECT watermark FROM doc_snapshots WHERE name = $1), 0)
  ORDER BY seq`

const rowsSql = (rows: number, columns: number): string => {
  const parts: string[] = []
  for (let r = 0; r < rows; r++) {
    const cols: string[] = []
    for (let c = 1; c <= columns; c++) cols.push(`$${r * columns + c}`)
    parts.push(`(${cols.join(',')})`)
  }
  return parts.join(',')
}

/**
 * A retried batch may already be committed (the connection broke after COMMIT, before its answer):
 * rows it wrote are skipped, and a snapshot never replaces a newer one.
 *
 * Appends go as three arrays, one statement of constant text whatever the batch size: faster for
 * large batches than a multi-row VALUES list, whose parsing grows with the rows (bytea arrays travel
 * hex-encoded, which small updates do not notice).
 * Snapshots, few and large, go as binary parameters of a VALUES list.
 */
const insertUpdates = (ops: Append[]): [string, unknown[]] => [
  `INSERT INTO doc_updates (name, seq, data) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])
   ON CONFLICT (name, seq) DO NOTHING`,
  [ops.map(op => op.name), ops.map(op => op.seq), ops.map(op => op.data)]
]
const upsertSnapshots = (ops: Compaction[]): [string, unknown[]] => [
  `INSERT INTO doc_snapshots (name, snapshot, watermark) VALUES ${rowsSql(ops.length, 3)}
   ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot, watermark = excluded.watermark
   WHERE doc_snapshots.watermark <= excluded.watermark`,
  ops.flatMap(op => [op.name, op.snapshot, op.watermark])
]
const deleteCovered = (ops: Compaction[]): [string, unknown[]] => [
  `DELETE FROM doc_updates u USING unnest($1::text[], $2::bigint[]) AS c(name, watermark)
   WHERE u.name = c.name AND u.seq < c.watermark`,
  [ops.map(op => op.name), ops.map(op => op.watermark)]
]

const chunks = <T>(items: T[], size: number): T[][] => {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * PostgreSQL document store: tables `doc_snapshots` and `doc_updates` (migrations/001_init.sql).
 * Appends are queued and written as one INSERT per window (--flush-ms), so thousands of edits per
 * second cost a handful of statements. A compaction writes the snapshot with its watermark
 * (the first sequence number it does not contain) and deletes the log rows below it in the same
 * transaction as the rest of its batch. Batches run one at a time, so the writes of each document
 * land in the order they were made.
 *
 * A failed batch (database down, connection killed) is logged and retried with backoff, ahead of
 * anything queued since; nothing is dropped. Sequence numbers are assigned in this process: one
 * process writes a document at a time.
 */
export class PostgresDocStore implements DocStore {
  private queue: Op[] = []
  private logs = new Map<string, DocLog>()
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> | null = null
  private retryDelayMs = RETRY_MIN_MS
  /** Logs with entries in `queued`, reset when the queue is handed to a batch. */
  private queuedLogs = new Set<DocLog>()
  /** Queued appends marked `skip` (superseded by a compaction), dropped when the batch is built. */
  private skipped = 0
  /** Operations ever queued, and how many of the oldest of them are written: what `flush()` waits on. */
  private queuedOps = 0
  private writtenOps = 0
  private closed = false

  constructor (private readonly pool: pg.Pool, private readonly opts: PostgresDocStoreOptions) {}

  async load (name: string): Promise<StoredDoc> {
    const { rows } = await this.pool.query<{ seq: string, data: Buffer, watermark: string | null }>(LOAD_SQL, [name])
    let snapshot: Bytes | null = null
    let nextSeq = 0
    let logBytes = 0
    const updates: Bytes[] = []
    for (const row of rows) {
      if (row.watermark !== null) {
        snapshot = row.data
        nextSeq = Number(row.watermark)
      } else {
        nextSeq = Math.max(nextSeq, Number(row.seq) + 1)
        logBytes += row.data.byteLength
      }
      updates.push(row.data)
    }
    // A document may be reloaded while writes for its previous load are still queued: continue its seq.
    const known = this.logs.get(name)
    this.logs.set(name, { nextSeq: Math.max(nextSeq, known?.nextSeq ?? 0), queued: [] })
    return {
      update: updates.length === 0 ? null : mergeUpdates(updates, err => this.opts.logger.error({ doc: name, err: err.message }, 'stored updates could not be applied; merged as bytes')),
      snapshotBytes: snapshot?.byteLength ?? 0,
      logEntries: updates.length - (snapshot ? 1 : 0),
      logBytes
    }
  }

  append (name: string, update: Bytes): void {
    const log = this.tracked(name)
    const op: Append = { kind: 'append', name, seq: log.nextSeq++, data: update, skip: false }
    log.queued.push(op)
    this.queuedLogs.add(log)
    this.queue.push(op)
    this.queuedOps++
    if (this.queue.length >= this.opts.maxBatchOps && !this.writing) void this.writeBatch().catch(() => {})
    else this.schedule()
  }

  compact (name: string, snapshot: Bytes, pending = 0): void {
    const log = this.tracked(name)
    // The first sequence number the snapshot does not cover: the last `pending` appends came in while
    // it was merged and stay in the log after it.
    const upTo = log.nextSeq - pending
    if (!Number.isInteger(pending) || pending < 0 || upTo < 0) throw new Error(`compaction of ${name} covers fewer updates than were appended`)
    // Queued appends the snapshot contains are skipped instead of written. Rows already handed to a
    // batch fall below the watermark and are deleted with the snapshot.
    let covered = 0
    while (covered < log.queued.length && log.queued[covered]!.seq < upTo) log.queued[covered++]!.skip = true
    this.skipped += covered
    log.queued = log.queued.slice(covered)
    this.queue.push({ kind: 'compact', name, snapshot, watermark: upTo })
    this.queuedOps++
    this.opts.metrics?.compactions.inc()
    this.schedule()
  }

  release (name: string): void {
    this.logs.delete(name)
  }

  async destroy (name: string): Promise<void> {
    if (this.logs.has(name)) throw new Error(`document ${name} destroyed while loaded`)
    await this.flush() // nothing of it may land after the delete
    await inTransaction(this.pool, async client => {
      await client.query('DELETE FROM doc_snapshots WHERE name = $1', [name])
      await client.query('DELETE FROM doc_updates WHERE name = $1', [name])
    })
  }

  /**
   * Resolves once every operation queued before the call is written; rejects if a batch it waits on
   * fails (the operations stay queued and are retried). Operations queued later do not hold it up.
   */
  async flush (): Promise<void> {
    const target = this.queuedOps
    while (this.writtenOps < target) {
      if (this.writing) await this.writing.catch(() => {})
      else await this.writeBatch()
    }
  }

  /**
   * Flush, retrying a failing database a few times, then stop the timer. What still cannot be
   * written is reported in the log and the returned promise rejects. The pool is the caller's.
   */
  async close (): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.flush()
        break
      } catch (err) {
        if (attempt >= CLOSE_ATTEMPTS) {
          this.opts.logger.error({ err: (err as Error).message, ops: this.queuedOps - this.writtenOps }, 'closing the document store: queued writes could not be written and are lost')
          throw err
        }
        await new Promise(resolve => setTimeout(resolve, this.retryDelayMs))
      }
    }
    this.closed = true
    if (this.timer) { clearTimeout(this.timer); this.timer = null }
  }

  private tracked (name: string): DocLog {
    const log = this.logs.get(name)
    if (!log) throw new Error(`document ${name} written before it was loaded`)
    return log
  }

  private schedule (delayMs = this.opts.flushIntervalMs) {
    if (this.timer || this.writing || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      void this.writeBatch().catch(() => {})
    }, delayMs)
  }

  /**
   * One batch: its appends first, then its compactions (the latest per document), so a compaction
   * deletes every covered row, whichever order they were queued in. A batch of appends alone is one
   * statement; with compactions it is one transaction.
   */
  private async writeOps (ops: Op[]): Promise<void> {
    const appends: Append[] = []
    const compactions = new Map<string, Compaction>()
    for (const op of ops) {
      if (op.kind === 'append') appends.push(op)
      else compactions.set(op.name, op)
    }
    const statements = appends.length > 0 ? [insertUpdates(appends)] : []
    if (compactions.size > 0) {
      const latest = [...compactions.values()]
      statements.push(...chunks(latest, MAX_SNAPSHOT_ROWS).map(upsertSnapshots), deleteCovered(latest))
    }
    if (statements.length === 1) {
      await this.pool.query(statements[0]![0], statements[0]![1])
      return
    }
    await inTransaction(this.pool, async client => {
      for (const [sql, params] of statements) await client.query(sql, params)
    })
  }

  private writeBatch (): Promise<void> {
    // One batch at a time keeps operations in order across batches.
    if (this.writing) return this.writing.then(() => this.writeBatch())
    if (this.timer) { clearTimeout(this.timer); this.timer = null }
    const ops = this.skipped > 0 ? this.queue.filter(op => op.kind !== 'append' || !op.skip) : this.queue
    this.queue = []
    this.skipped = 0
    for (const log of this.queuedLogs) log.queued = []
    this.queuedLogs.clear()
    // Batches run one at a time and a failed one goes back in front of the queue, so once this one is
    // written every operation queued so far is (skipped ones were superseded by a snapshot in it).
    const upTo = this.queuedOps
    if (ops.length === 0) { this.writtenOps = upTo; return Promise.resolve() }
    const started = process.hrtime.bigint()
    const write = this.writeOps(ops).then(
      () => {
        this.writtenOps = upTo
        this.opts.metrics?.persistLatency.observe(Number(process.hrtime.bigint() - started) / 1e9)
        this.opts.metrics?.persistBatchSize.observe(ops.length)
        this.retryDelayMs = RETRY_MIN_MS
      },
      (err: Error & { code?: string }) => {
        // Keep the operations, in order, ahead of anything queued since; retry with backoff.
        this.queue = ops.concat(this.queue)
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS)
        this.opts.logger.error({ err: err.message, pgCode: err.code, ops: ops.length, retryMs: this.retryDelayMs }, 'storage batch failed, will retry')
        throw err
      }
    )
    this.writing = write.finally(() => {
      this.writing = null
      if (this.queue.length === 0) return
      if (this.queue.length >= this.opts.maxBatchOps && this.retryDelayMs === RETRY_MIN_MS) void this.writeBatch().catch(() => {})
      else this.schedule(this.retryDelayMs > RETRY_MIN_MS ? this.retryDelayMs : this.opts.flushIntervalMs)
    })
    // A failed batch is logged and retried above; unobserved, this rejection would end the process.
    this.writing.catch(() => {})
    return write
  }
}
