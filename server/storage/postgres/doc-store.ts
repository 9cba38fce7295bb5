import type pg from 'pg'
import { mergeUpdates } from '../../yjs/merge-updates.js'
import { randomUUID } from 'node:crypto'
import type { Claim, Coverage, DocStore, StoredDoc } from '../doc-store.js'
import type { Logger } from '../../observe/logger.js'
import type { Metrics } from '../../observe/metrics.js'
import { inTransaction } from './pool.js'
import { compareStreamIds } from '../../cluster/stream-id.js'
import { BatchQueue } from '../batch-queue.js'

type Bytes = Uint8Array

export interface PostgresDocStoreOptions {
  /** Batch window: queued updates are written at most this many ms after the first of them. */
  flushIntervalMs: number
  /** A batch is written at once when this many operations are queued. */
  maxBatchOps: number
  logger: Logger
  metrics?: Metrics
  /** How long a compaction lease lasts (default COMPACTION_LEASE_MS). */
  leaseMs?: number
}

interface Append { kind: 'append', name: string, n: number, data: Bytes }
interface Compaction {
  kind: 'compact'
  name: string
  snapshot: Bytes
  position: string
  token: number | undefined
  /** This store's rows of the document numbered below it are covered. */
  ownBelow: number
  /** Rows loaded (by seq) and rows of other stores (by key) that the snapshot covers. */
  loaded: string[]
  remoteOrigins: string[]
  remoteNs: number[]
  /** Settles `compact`'s promise: whether the snapshot was written. */
  done: (written: boolean) => void
}
type Op = Append | Compaction

interface DocLog {
  /** Keys (`n`) of this store's appends since the last claim or compaction call, oldest first. */
  own: number[]
  /** Seqs of the rows the last load read, covered by the next compaction. */
  loaded: string[]
  /** The fence of the snapshot this store read or wrote last: another one is merged before replacing it. */
  seen: number
  /** Position of the stored snapshot found by the last claim (a new snapshot covers at least it). */
  claimedPosition: string
}

/** How long a compaction lease lasts; its holder renews it with each compaction. */
export const COMPACTION_LEASE_MS = 30_000
/** Attempts `close()` makes to write what is queued before it gives up and reports what is lost. */
const CLOSE_ATTEMPTS = 5

// The snapshot row (seq -1) and then the log from the watermark on (rows of older versions of this
// store below it are dead), in one statement: one consistent view even while another batch commits.
const LOAD_SQL = `
  SELECT -1::bigint AS seq, snapshot AS data, watermark, position, fence, NULL AS origin, NULL::bigint AS n FROM doc_snapshots WHERE name = $1
  UNION ALL
  SELECT seq, data, NULL, NULL, NULL, origin, n FROM doc_updates
  WHERE name = $1 AND seq >= COALESCE((SELECT watermark FROM doc_snapshots WHERE name = $1), 0)
  ORDER BY seq`

// Granted when nobody holds the lease, it expired, or this store holds it; each grant is a new fence.
const CLAIM_SQL = `
  WITH granted AS (
    INSERT INTO doc_compactions (name, fence, holder, until) VALUES ($1, 1, $2, now() + $3 * interval '1 millisecond')
    ON CONFLICT (name) DO UPDATE SET fence = doc_compactions.fence + 1, holder = excluded.holder, until = excluded.until
    WHERE doc_compactions.until < now() OR doc_compactions.holder = excluded.holder
    RETURNING fence
  )
  SELECT g.fence, s.fence AS snapshot_fence, s.position, CASE WHEN s.fence IS DISTINCT FROM $4 THEN s.snapshot END AS snapshot
  FROM granted g LEFT JOIN doc_snapshots s ON s.name = $1`

/**
 * A retried batch may already be committed (the connection broke after COMMIT, before its answer):
 * rows it wrote are skipped by their key, and a compaction is fenced.
 *
 * Appends go as arrays, one statement of constant text whatever the batch size: faster for large
 * batches than a multi-row VALUES list, whose parsing grows with the rows. The updates travel as one
 * binary parameter, cut into rows by offsets (a bytea[] would travel hex-encoded, twice the bytes
 * and a parse per row on both sides).
 */
const insertUpdates = (origin: string, ops: Append[]): pg.QueryConfig => {
  let size = 0
  for (const op of ops) size += op.data.byteLength
  const data = Buffer.allocUnsafe(size)
  const starts = new Array<number>(ops.length)
  const lengths = new Array<number>(ops.length)
  let at = 0
  for (let i = 0; i < ops.length; i++) {
    const bytes = ops[i]!.data
    data.set(bytes, at)
    starts[i] = at + 1 // substring counts from 1
    lengths[i] = bytes.byteLength
    at += bytes.byteLength
  }
  return {
    // Prepared once per connection: PostgreSQL parses and plans it once, not once per batch.
    name: 'session-sync:insert-updates',
    text: `INSERT INTO doc_updates (name, origin, n, data)
     SELECT u.name, $1, u.n, substring($5::bytea FROM u.start FOR u.length) FROM unnest($2::text[], $3::bigint[], $4::int[], $6::int[]) AS u(name, n, start, length)
     ON CONFLICT (name, origin, n) DO NOTHING`,
    values: [origin, ops.map(op => op.name), ops.map(op => op.n), starts, data, lengths]
  }
}

/** A key `append` returned: the writing store and its counter. */
const parseKey = (key: string): [string, number] | null => {
  const at = key.lastIndexOf(':')
  const n = Number(key.slice(at + 1))
  return at > 0 && Number.isSafeInteger(n) ? [key.slice(0, at), n] : null
}


/**
 * PostgreSQL document store: tables `doc_snapshots` and `doc_updates` (migrations/001_init.sql, 004).
 * Appends are queued and written as one INSERT per window (--flush-ms), so thousands of edits per
 * second cost a handful of statements. Several nodes may append to one document: rows are numbered by
 * a database sequence and keyed by the writing store (a random id per process) and its counter.
 *
 * A compaction writes the snapshot and deletes exactly the rows it covers (this store's appends before
 * its cut, the rows it loaded, the rows of other nodes it names) in one transaction, so a row committed
 * late by another node is never hidden by it. In a cluster one node compacts a document at a time: it
 * claims a lease whose fence the compaction transaction checks, and merges a snapshot another node wrote
 * since it last read one into its own first, so a snapshot never loses what the one it replaces held.
 *
 * A failed batch (database down, connection killed) is logged and retried with backoff, ahead of
 * anything queued since; nothing is dropped.
 */
export class PostgresDocStore implements DocStore {
  private readonly queue: BatchQueue<Op>
  private logs = new Map<string, DocLog>()
  /** This store's name in row keys and leases: unique per process. */
  readonly origin = randomUUID()
  private nextN = 0

  constructor (private readonly pool: pg.Pool, private readonly opts: PostgresDocStoreOptions) {
    this.queue = new BatchQueue<Op>({
      flushIntervalMs: opts.flushIntervalMs,
      maxBatchOps: opts.maxBatchOps,
      write: ops => this.writeBatch(ops),
      onError: (err: Error & { code?: string }, ops, retryMs) => opts.logger.error({ err: err.message, pgCode: err.code, ops, retryMs }, 'storage batch failed, will retry')
    })
  }

  async load (name: string): Promise<StoredDoc> {
    const { rows } = await this.pool.query<{ seq: string, data: Buffer, watermark: string | null, position: string | null, fence: string | null, origin: string | null, n: string | null }>(LOAD_SQL, [name])
    let snapshot: Bytes | null = null
    let position = ''
    let fence = 0
    let logBytes = 0
    const updates: Bytes[] = []
    const loaded: string[] = []
    const keys: string[] = []
    for (const row of rows) {
      if (row.watermark !== null) {
        snapshot = row.data
        position = row.position ?? ''
        fence = Number(row.fence)
      } else {
        logBytes += row.data.byteLength
        loaded.push(row.seq)
        if (row.origin !== null) keys.push(`${row.origin}:${row.n}`)
      }
      updates.push(row.data)
    }
    // A document may be reloaded while writes for its previous load are still queued: those stay its own.
    const known = this.logs.get(name)
    this.logs.set(name, { own: known?.own ?? [], loaded, seen: fence, claimedPosition: position })
    return {
      update: updates.length === 0 ? null : mergeUpdates(updates, err => this.opts.logger.error({ doc: name, err: err.message }, 'stored updates could not be applied; merged as bytes')),
      snapshotBytes: snapshot?.byteLength ?? 0,
      logEntries: updates.length - (snapshot ? 1 : 0),
      logBytes,
      position,
      keys
    }
  }

  append (name: string, update: Bytes): string {
    const log = this.tracked(name)
    const n = this.nextN++
    log.own.push(n)
    this.queue.push({ kind: 'append', name, n, data: update })
    return `${this.origin}:${n}`
  }

  async claimCompaction (name: string): Promise<Claim | null> {
    const log = this.tracked(name)
    // A compaction cuts after its claim: appends before this call are never among its pending ones, and
    // rows below the first later one are covered by its range. Bounds `own` on a node that keeps being refused.
    log.own = []
    const { rows } = await this.pool.query<{ fence: string, snapshot_fence: string | null, position: string | null, snapshot: Buffer | null }>(
      CLAIM_SQL, [name, this.origin, this.opts.leaseMs ?? COMPACTION_LEASE_MS, log.seen])
    const row = rows[0]
    if (!row) return null
    log.claimedPosition = row.position ?? ''
    if (row.snapshot_fence !== null) log.seen = Number(row.snapshot_fence)
    return { token: Number(row.fence), snapshot: row.snapshot }
  }

  compact (name: string, snapshot: Bytes, cover: Coverage = {}): Promise<boolean> {
    const log = this.tracked(name)
    // The last `pending` appends came in while the snapshot was merged and stay in the log after it.
    const pending = cover.pending ?? 0
    if (!Number.isInteger(pending) || pending < 0 || pending > log.own.length) throw new Error(`compaction of ${name} covers fewer updates than were appended`)
    const cut = log.own.length - pending
    const ownBelow = log.own[cut] ?? this.nextN
    log.own = log.own.slice(cut)
    const loaded = log.loaded
    log.loaded = []
    const remoteOrigins: string[] = []
    const remoteNs: number[] = []
    for (const key of cover.remote ?? []) {
      const parsed = parseKey(key)
      if (parsed) { remoteOrigins.push(parsed[0]); remoteNs.push(parsed[1]) }
    }
    // It holds the snapshot it replaces (merged in after the claim), so it covers that one's position too.
    const position = compareStreamIds(cover.position ?? '', log.claimedPosition) >= 0 ? cover.position ?? '' : log.claimedPosition
    const token = cover.token
    const done = new Promise<boolean>(resolve => {
      this.queue.push({ kind: 'compact', name, snapshot, position, token, ownBelow, loaded, remoteOrigins, remoteNs, done: resolve })
    })
    this.opts.metrics?.compactions.inc()
    return done.then(written => {
      if (written && token !== undefined) {
        const current = this.logs.get(name)
        if (current) { current.seen = token; current.claimedPosition = position }
      }
      return written
    })
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
      await client.query('DELETE FROM doc_compactions WHERE name = $1', [name])
    })
  }

  /**
   * Resolves once every operation queued before the call is written; rejects if a batch it waits on
   * fails (the operations stay queued and are retried). Operations queued later do not hold it up.
   */
  flush (): Promise<void> { return this.queue.flush() }

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
          this.opts.logger.error({ err: (err as Error).message, ops: this.queue.unwritten }, 'closing the document store: queued writes could not be written and are lost')
          throw err
        }
        await new Promise(resolve => setTimeout(resolve, this.queue.retryDelayMs))
      }
    }
    this.queue.stop()
    // Leases this store holds go free now rather than when they expire (a restarted node compacts at once).
    await this.pool.query('UPDATE doc_compactions SET until = now() WHERE holder = $1', [this.origin])
      .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'could not release compaction leases'))
  }

  private tracked (name: string): DocLog {
    const log = this.logs.get(name)
    if (!log) throw new Error(`document ${name} written before it was loaded`)
    return log
  }

  /**
   * One batch: its appends first, then its compactions in order, so a compaction deletes every row it
   * covers, whichever order they were queued in. A batch of appends alone is one statement; with
   * compactions it is one transaction. Returns whether each compaction was written (its fence held).
   */
  private async writeOps (ops: Op[]): Promise<boolean[]> {
    const appends: Append[] = []
    const compactions: Compaction[] = []
    for (const op of ops) {
      if (op.kind === 'append') appends.push(op)
      else compactions.push(op)
    }
    if (compactions.length === 0) {
      if (appends.length > 0) await this.pool.query(insertUpdates(this.origin, appends))
      return []
    }
    return inTransaction(this.pool, async client => {
      if (appends.length > 0) await client.query(insertUpdates(this.origin, appends))
      const written: boolean[] = []
      for (const c of compactions) {
        if (c.token !== undefined) {
          // Holding the lease row until commit: a new grant waits for this transaction, then fences it out.
          const { rowCount } = await client.query('SELECT 1 FROM doc_compactions WHERE name = $1 AND fence = $2 FOR UPDATE', [c.name, c.token])
          if (rowCount === 0) { written.push(false); continue }
        }
        await client.query(
          `INSERT INTO doc_snapshots (name, snapshot, watermark, position, fence) VALUES ($1, $2, 0, $3, $4)
           ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot, position = excluded.position, fence = excluded.fence`,
          [c.name, c.snapshot, c.position, c.token ?? 0])
        await client.query(
          `DELETE FROM doc_updates WHERE name = $1 AND (
             (origin = $2 AND n < $3) OR seq = ANY($4::bigint[])
             OR (origin, n) IN (SELECT * FROM unnest($5::text[], $6::bigint[])))`,
          [c.name, this.origin, c.ownBelow, c.loaded, c.remoteOrigins, c.remoteNs])
        written.push(true)
      }
      return written
    })
  }

  /** The queue's batch; then each compaction in it learns whether it was written. */
  private async writeBatch (ops: Op[]): Promise<void> {
    const started = process.hrtime.bigint()
    const written = await this.writeOps(ops)
    let i = 0
    for (const op of ops) if (op.kind === 'compact') op.done(written[i++] ?? false)
    this.opts.metrics?.persistLatency.observe(Number(process.hrtime.bigint() - started) / 1e9)
    this.opts.metrics?.persistBatchSize.observe(ops.length)
  }
}
