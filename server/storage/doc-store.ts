/**
 * Where documents live between loads. The sync core only sees this interface; `app.ts` picks the
 * implementation (`--store`: `level/doc-store.ts` or `postgres/doc-store.ts`, held to the same cases by
 * test/storage/doc-store-contract.test.ts). Every implementation keeps a per-document log of updates
 * plus an optional snapshot, and must apply `append` and `compact` calls for one document in the
 * order they were made.
 */
export interface StoredDoc {
  /** Snapshot and log merged into one Yjs update, or null for a document never written. */
  update: Uint8Array | null
  /** Size of the stored snapshot (0 without one). */
  snapshotBytes: number
  /** Updates in the log after the snapshot (what compaction would merge). */
  logEntries: number
  logBytes: number
  /**
   * Cluster stores: the update-bus position (Redis stream id) up to which `update` holds every update
   * of the document; a room reads the bus from there. '' when unknown (read the bus from its start).
   */
  position: string
  /** Cluster stores: keys (see `append`) of the loaded log entries, whose bus entries the room skips. */
  keys: string[]
}

/** A granted compaction lease. */
export interface Claim {
  /** Fencing token for `compact`. */
  token: number
  /**
   * The stored snapshot, when another node wrote it after this store last read or wrote one: the new
   * snapshot must hold it (merge it in), since the log rows it covers are gone.
   */
  snapshot: Uint8Array | null
}

/** What a compaction's snapshot holds. */
export interface Coverage {
  /** Updates this store appended to the document that the snapshot lacks: the last `pending` ones. */
  pending?: number
  /** Keys of updates other nodes appended (delivered over the bus) that the snapshot holds. */
  remote?: string[]
  /** The bus position up to which the snapshot holds every update ('' = none). */
  position?: string
  /** The fencing token `claimCompaction` granted; a store shared by nodes writes only with the current one. */
  token?: number
}

export interface DocStore {
  /** Read a document and start tracking it; must precede `append`/`compact` for that name. */
  load(name: string): Promise<StoredDoc>
  /**
   * Queue one update. It is durable once the next batch is written (see the implementation's window).
   * Returns its key, unique across every store on the same database ('' for a single-process store):
   * it travels with the update on the bus, so that another node can name the entry.
   */
  append(name: string, update: Uint8Array): string
  /**
   * The right to compact `name` now, or null while another node holds it (that node compacts; skip the
   * write). A single-process store always grants it.
   */
  claimCompaction(name: string): Promise<Claim | null>
  /**
   * Atomically replace the document's snapshot and the log entries it covers by `snapshot`: every
   * update this store loaded or appended before, except the last `cover.pending` ones (appended while it
   * was being merged), which stay in the log after it, plus `cover.remote` and every update up to
   * `cover.position`. A reload then reads the snapshot and what is left. Resolves once written: true, or
   * false when `cover.token` is no longer the current one (another node compacted since; nothing written).
   */
  compact(name: string, snapshot: Uint8Array, cover?: Coverage): Promise<boolean>
  /** Stop tracking a document (after its last write was flushed). */
  release(name: string): void
  /** Delete a document's snapshot and log for good. The document must not be loaded. */
  destroy(name: string): Promise<void>
  /** Write everything queued so far; resolves once it is durable. */
  flush(): Promise<void>
  /** Flush, then release resources. */
  close(): Promise<void>
}
