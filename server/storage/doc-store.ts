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
}

export interface DocStore {
  /** Read a document and start tracking it; must precede `append`/`compact` for that name. */
  load(name: string): Promise<StoredDoc>
  /** Queue one update. It is durable once the next batch is written (see the implementation's window). */
  append(name: string, update: Uint8Array): void
  /**
   * Atomically replace the document's snapshot and the log entries it covers by `snapshot`. It covers
   * every update appended before, except the last `pending` ones (appended while it was being merged,
   * default 0), which stay in the log after it; a reload then reads the snapshot and those.
   */
  compact(name: string, snapshot: Uint8Array, pending?: number): void
  /** Stop tracking a document (after its last write was flushed). */
  release(name: string): void
  /** Delete a document's snapshot and log for good. The document must not be loaded. */
  destroy(name: string): Promise<void>
  /** Write everything queued so far; resolves once it is durable. */
  flush(): Promise<void>
  /** Flush, then release resources. */
  close(): Promise<void>
}
