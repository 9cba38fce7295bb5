import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { EMPTY_UPDATE, encodeAwareness, encodeSyncStep1, isEmptyStateVector } from '../../shared/protocol.js'
import type { Connection } from './connection.js'
import type { SyncContext } from './context.js'
import type { StoredDoc } from '../storage/doc-store.js'
import { cancelRoom, deferRoom } from './turn-end.js'
import { appendMerge } from '../yjs/append-merge.js'
import { checkUpdateV1 } from '../yjs/update-check.js'
import { UpdateLog } from './update-log.js'
import { BUILT_DOC_GUID, buildDoc } from '../yjs/merge-updates.js'

/**
 * After this many compactions in a row that copied bytes (append-merge.ts: the log only appended), the
 * next one rebuilds the document: a rebuild merges a typist's one-character structs into runs, which
 * copying does not. 8 leaves a ninth of the rebuilds there were.
 */
const REBUILD_EVERY = 8

/** Documents at least this big keep the Y.Doc a sync's rebuild made, budget permitting; smaller ones rebuild in a few ms. */
const LIVE_DOC_MIN_BYTES = 256 * 1024

/**
 * One loaded document and the connections editing it. The room holds the document as one merged Yjs
 * update plus the updates accepted since, not as a Y.Doc: an update is checked, appended to the store
 * and its *same* encoded frame queued for every other connection, and nothing else happens to it on
 * the way. When a device syncs or the log compacts, a Y.Doc built for the moment merges them
 * (storage/merge-updates.ts); a compaction whose log only appends copies their bytes instead
 * (append-merge.ts). Why: applying every update to a live Y.Doc was about a third of the
 * event loop's JavaScript time at 10k edits/s, and the object graph of every loaded document made
 * each garbage collection longer; the loop's longest stalls set p99 (README, Performance).
 */
export class Room {
  // Created when the first presence arrives: most session documents never carry any, and each
  // Awareness holds maps and a 3-second timer of its own (and a Y.Doc for its client id).
  private awareness: awarenessProtocol.Awareness | null = null
  readonly connections = new Set<Connection>()
  /** Everything accepted up to the last merge, as one update (null: nothing yet). */
  private merged: Uint8Array | null
  /** Updates accepted since, in order; merged into `merged` when a device syncs or on compaction. */
  private readonly recent = new UpdateLog()
  /** The state vector of `merged`, computed when a device first asks for it. */
  private stateVector: Uint8Array | null = null
  private logEntries: number
  private logBytes: number
  /** Size of the last snapshot written. */
  private snapshotBytes: number
  // Each room compacts somewhere in the last quarter before the thresholds, so documents under the same
  // load do not all compact in the same moment.
  private readonly compactAt = 0.75 + Math.random() * 0.25
  /**
   * A big document that devices sync while it is edited keeps the Y.Doc of its last rebuild, brought up
   * to date only when asked (entries of `recent` from `liveApplied` on are not in it yet). Such a sync
   * then costs well under a millisecond instead of a rebuild of the whole document (37 ms at 1.1 MB,
   * 111 ms at 10 MB). Its heap is charged to the process's LiveDocBudget, and it is dropped when a
   * compaction finds that no sync used it since the previous one.
   */
  private live: Y.Doc | null = null
  /** Merges by append-merge since the last rebuild. */
  private appendMerges = 0
  private liveApplied = 0
  private liveCharge = 0
  private liveUsed = false

  constructor (readonly name: string, stored: StoredDoc, private readonly ctx: SyncContext, private readonly onEmpty: (room: Room) => void) {
    this.merged = stored.update
    this.logEntries = stored.logEntries
    this.logBytes = stored.logBytes
    this.snapshotBytes = stored.snapshotBytes
    this.compactIfDue()
  }

  attach (conn: Connection): void {
    this.connections.add(conn)
  }

  detach (conn: Connection): void {
    if (!this.connections.delete(conn)) return
    if (this.awareness && conn.awarenessIds && conn.awarenessIds.size > 0) {
      const ids = [...conn.awarenessIds]
      awarenessProtocol.removeAwarenessStates(this.awareness, ids, null)
      this.broadcast(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids)), null)
    }
    if (this.connections.size === 0) this.onEmpty(this)
  }

  syncStep1 (): Uint8Array {
    const live = this.liveDoc()
    if (live) {
      this.liveUsed = true
      return encodeSyncStep1(Y.encodeStateVector(live))
    }
    const state = this.current(true)
    this.stateVector ??= Y.encodeStateVectorFromUpdate(state)
    return encodeSyncStep1(this.stateVector)
  }

  /** What a peer with `stateVector` lacks: everything, as stored, for a fresh device. */
  diff (stateVector: Uint8Array): Uint8Array {
    const fresh = isEmptyStateVector(stateVector)
    const live = fresh ? null : this.liveDoc()
    if (live) {
      this.liveUsed = true
      return Y.encodeStateAsUpdate(live, stateVector)
    }
    const state = this.current(true)
    return fresh ? state : Y.diffUpdate(state, stateVector)
  }

  /**
   * Everything accepted so far as one update (merging what arrived since the last call). A rebuild
   * for a sync (`forSync`) may leave the room a live Y.Doc; one for a compaction does not.
   */
  private current (forSync = false): Uint8Array {
    if (this.recent.length === 0) return this.merged ?? EMPTY_UPDATE
    const live = this.liveDoc()
    if (live) {
      this.merged = Y.encodeStateAsUpdate(live)
      // Charged by its encoded size, which grows with the document.
      if (!this.recharge(this.merged.byteLength)) this.dropLive()
    } else if (this.merged === null && this.recent.length === 1) {
      this.merged = this.recent.at(0).slice() // its own bytes, not the log's buffer
    } else {
      const parts = this.merged ? [this.merged, ...this.recent.all()] : this.recent.all()
      // A compaction copies bytes when the log only appends (append-merge.ts); a sync, which may keep
      // the Y.Doc, and every REBUILD_EVERY-th compaction rebuild, which merges neighbouring structs.
      const appended = !forSync && this.appendMerges < REBUILD_EVERY ? appendMerge(parts) : null
      if (appended) {
        this.merged = appended
        this.appendMerges++
        this.ctx.metrics.appendMerges.inc()
      } else {
        this.ctx.metrics.rebuilds.inc()
        const built = buildDoc(parts, err => this.ctx.logger.error({ doc: this.name, err: err.message }, 'could not rebuild the document; merged its updates as bytes'))
        this.merged = built.update
        this.appendMerges = 0
        if (built.doc && !(forSync && this.keepLive(built.doc))) built.doc.destroy()
      }
    }
    this.recent.clear()
    this.liveApplied = 0
    this.stateVector = null
    return this.merged
  }

  /** The live Y.Doc with every accepted update applied, or null when the room has none. */
  private liveDoc (): Y.Doc | null {
    const doc = this.live
    if (!doc || this.liveApplied === this.recent.length) return doc
    try {
      Y.transact(doc, () => { for (let i = this.liveApplied; i < this.recent.length; i++) Y.applyUpdate(doc, this.recent.at(i)) })
    } catch (err) {
      // Unreachable for checked updates (update-check.ts). `merged` and `recent` still hold everything.
      this.ctx.logger.error({ doc: this.name, err: (err as Error).message }, 'could not update the live document; dropped it')
      this.dropLive()
      return null
    }
    this.liveApplied = this.recent.length
    return doc
  }

  private keepLive (doc: Y.Doc): boolean {
    const bytes = this.merged!.byteLength
    if (bytes < LIVE_DOC_MIN_BYTES || !this.recharge(bytes)) return false
    this.live = doc
    this.liveUsed = false
    return true
  }

  /** Charge the live Y.Doc `bytes` instead of its last charge; false (and nothing charged) when the budget refuses. */
  private recharge (bytes: number): boolean {
    this.ctx.liveDocs.give(this.liveCharge)
    this.liveCharge = this.ctx.liveDocs.take(bytes) ? bytes : 0
    return this.liveCharge > 0
  }

  private dropLive (): void {
    const doc = this.live
    if (!doc) return
    this.live = null
    this.liveApplied = 0
    this.ctx.liveDocs.give(this.liveCharge)
    this.liveCharge = 0
    doc.destroy()
  }

  /**
   * Check, persist and fan out. Throws on an update Yjs could not read or apply, or that the store
   * refuses, before anything is sent.
   */
  applyUpdate (update: Uint8Array, from: Connection, frame: Uint8Array): void {
    // The check refuses everything Yjs would throw on (update-check.ts): what is stored and sent applies.
    checkUpdateV1(update)
    // Copied into the room's log until the next merge (and kept by the store until its batch is
    // written): a view into the socket's read buffer would keep all of that buffer alive.
    this.ctx.store.append(this.name, this.recent.push(update))
    this.logEntries++
    this.logBytes += update.byteLength
    this.broadcast(frame, from)
    // Compaction rebuilds the document: at the end of the turn, after the sockets' writes (turn-end.ts).
    if (this.compactionDue()) deferRoom(this)
  }

  runAtTurnEnd (): void { this.compactIfDue() }

  receiveAwareness (from: Connection, update: Uint8Array, frame: Uint8Array): void {
    if (!this.awareness) {
      // The doc only carries the awareness' clientID; like a built doc it is never a subdocument.
      this.awareness = new awarenessProtocol.Awareness(new Y.Doc({ guid: BUILT_DOC_GUID }))
      this.awareness.setLocalState(null) // the server has no presence of its own
      this.awareness.on('update', this.trackAwareness)
    }
    awarenessProtocol.applyAwarenessUpdate(this.awareness, update, from)
    this.broadcast(frame, from)
  }

  encodeAllAwareness (): Uint8Array | null {
    if (!this.awareness) return null
    const ids = [...this.awareness.getStates().keys()]
    return ids.length === 0 ? null : encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids))
  }

  broadcast (frame: Uint8Array, except: Connection | null): void {
    for (const conn of this.connections) if (conn !== except) conn.send(frame)
  }

  /** Merge the log into a snapshot now if it has any entries (used on unload and shutdown). */
  compactNow (): void {
    if (this.logEntries === 0) return
    const snapshot = this.current()
    this.ctx.store.compact(this.name, snapshot)
    this.snapshotBytes = snapshot.byteLength
    this.logEntries = 0
    this.logBytes = 0
    // Edited but not joined since the last compaction: the live Y.Doc is only memory now.
    if (!this.liveUsed) this.dropLive()
    this.liveUsed = false
  }

  /** Free the room. Callers compact first, except a purge. */
  destroy (): void {
    cancelRoom(this)
    this.dropLive()
    this.recent.clear()
    this.merged = null
    const awareness = this.awareness
    awareness?.off('update', this.trackAwareness)
    awareness?.destroy()
    awareness?.doc.destroy()
  }

  /**
   * Compaction rebuilds and re-encodes the whole document, so past the thresholds it also waits until the log holds
   * half the snapshot's bytes: each compaction of a big document then follows as many new bytes as it
   * writes, and the cost per update stays constant instead of growing with the document (5000 map edits
   * into one document: 11 compactions re-encoding 1.13 MB in all without the rule, 6 and 0.42 MB with it). A log of
   * more than 10× `--compact-entries` compacts regardless, which bounds what a cold load merges.
   */
  private compactionDue (): boolean {
    const { compactMaxEntries, compactMaxBytes } = this.ctx.config
    const past = this.logEntries > compactMaxEntries * this.compactAt || this.logBytes > compactMaxBytes * this.compactAt
    return past && (this.logBytes * 2 >= this.snapshotBytes || this.logEntries > compactMaxEntries * 10)
  }

  private compactIfDue (): void { if (this.compactionDue()) this.compactNow() }

  private trackAwareness = ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }, origin: unknown) => {
    if (origin === null || typeof origin !== 'object' || !('awarenessIds' in origin)) return
    const conn = origin as Connection
    if (!conn.awarenessIds && added.length === 0 && updated.length === 0) return
    const ids = conn.awarenessIds ??= new Set()
    for (const id of added) ids.add(id)
    for (const id of updated) ids.add(id)
    for (const id of removed) ids.delete(id)
  }
}
