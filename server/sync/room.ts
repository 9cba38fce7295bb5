import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { EMPTY_UPDATE, encodeAwareness, encodeSyncStep1, isEmptyStateVector } from '../../shared/protocol.js'
import { decodeAwarenessUpdate, encodeAwarenessEntries } from '../../shared/awareness.js'
import type { Connection } from './connection.js'
import type { SyncContext } from './context.js'
import type { Claim, StoredDoc } from '../storage/doc-store.js'
import { cancelRoom, deferRoom } from './turn-end.js'
import { checkUpdateV1 } from '../yjs/update-check.js'
import { UpdateLog } from './update-log.js'
import { BUILT_DOC_GUID, buildDoc } from '../yjs/merge-updates.js'
import type { Merger } from '../yjs/merger.js'
import type { DocUpdateSubscriber } from '../cluster/doc-update-bus.js'

/** Documents at least this big keep the Y.Doc a sync's rebuild made, budget permitting; smaller ones rebuild in a few ms. */
const LIVE_DOC_MIN_BYTES = 256 * 1024

/**
 * Awareness client ids one connection may own in a room. A client has one per Y.Doc it syncs (one per
 * socket with y-websocket); the cap keeps a socket that announces ever new ids from growing the
 * room's presence without bound.
 */
const MAX_PRESENCE_IDS = 16

/** Where a compaction cut the room's history: what its snapshot covers. */
interface Cut { recent: number, syncMerges: number, appended: number, entries: number, bytes: number, keys: number, position: string }

/**
 * One loaded document and the connections editing it. The room holds the document as one merged Yjs
 * update plus the updates accepted since, not as a Y.Doc: an update is checked, appended to the store
 * and its same encoded frame queued for every other connection. A Y.Doc is built only to merge: on the
 * event loop when a device syncs, and in the merge worker (merger.ts) when the log compacts. Why:
 * applying every update to a live Y.Doc costs CPU per edit, and the object graph of every loaded
 * document lengthens every garbage collection.
 */
export class Room implements DocUpdateSubscriber {
  // Created when the first presence arrives: most session documents never carry any, and each
  // Awareness holds maps and a 3-second timer of its own (and a Y.Doc for its client id).
  private awareness: awarenessProtocol.Awareness | null = null
  /** The connection that first announced each awareness client id: only it changes or removes that entry. */
  private readonly presenceOwners = new Map<number, Connection>()
  /** Presence of devices on other nodes (cluster mode): when each entry was last renewed (performance.now()). */
  private remotePresence: Map<number, number> | null = null
  private remotePresenceTimer: NodeJS.Timeout | null = null
  readonly connections = new Set<Connection>()
  /** Everything accepted up to the last merge, as one update (null: nothing yet). */
  private merged: Uint8Array | null
  /** Updates accepted since, in order; merged into `merged` when a device syncs or a compaction ends. */
  private readonly recent = new UpdateLog()
  /** The state vector of `merged`, computed when a device first asks for it. */
  private stateVector: Uint8Array | null = null
  /** The store's log since its snapshot: entries and bytes. */
  private logEntries: number
  private logBytes: number
  /** Size of the last snapshot written. */
  private snapshotBytes: number
  // Each room compacts somewhere in the last quarter before the thresholds, so documents under the same
  // load do not all compact in the same moment.
  private readonly compactAt = 0.75 + Math.random() * 0.25
  /** The compaction running in the merge worker, if any; updates are accepted meanwhile. */
  private compacting: Promise<void> | null = null
  /** Updates this room appended to the store, in all. */
  private appended = 0
  /** Merges of `recent` into `merged` for a sync, in all: a compaction that ends after one leaves the room as it is. */
  private syncMerges = 0
  private destroyed = false
  /**
   * A big document that devices sync while it is edited keeps the Y.Doc of its last rebuild, brought up
   * to date only when asked (entries of `recent` from `liveApplied` on are not in it yet), so such a sync
   * costs well under a millisecond instead of a rebuild of the whole document. Its heap is charged to
   * the process's LiveDocBudget, and it is dropped when a compaction finds that no sync used it since
   * the previous one.
   */
  private live: Y.Doc | null = null
  private liveApplied = 0
  private liveCharge = 0
  private liveUsed = false
  /** Store keys of the updates other nodes accepted since the last compaction (its snapshot covers them). */
  private remoteKeys: string[] = []
  /** Store keys of the log entries loaded: their bus entries are already in `merged`. */
  private loadedKeys: Set<string> | null

  constructor (readonly name: string, stored: StoredDoc, private readonly ctx: SyncContext, private readonly merger: Merger, private readonly onEmpty: (room: Room) => void) {
    this.merged = stored.update
    this.loadedKeys = stored.keys.length > 0 ? new Set(stored.keys) : null
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
    const awareness = this.awareness
    if (awareness && conn.awarenessIds) {
      for (const id of conn.awarenessIds) this.presenceOwners.delete(id)
      const ids = [...conn.awarenessIds].filter(id => awareness.states.has(id))
      if (ids.length > 0) {
        awarenessProtocol.removeAwarenessStates(awareness, ids, null)
        const update = awarenessProtocol.encodeAwarenessUpdate(awareness, ids)
        this.broadcast(encodeAwareness(update), null)
        this.ctx.updates.publishAwareness(this.name, update)
      }
    }
    if (this.connections.size === 0) this.onEmpty(this)
  }

  syncStep1 (): Uint8Array {
    const live = this.liveDoc()
    if (live) {
      this.liveUsed = true
      return encodeSyncStep1(Y.encodeStateVector(live))
    }
    const state = this.current()
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
    const state = this.current()
    return fresh ? state : Y.diffUpdate(state, stateVector)
  }

  /**
   * Everything accepted so far as one update, merging what arrived since the last call on the event
   * loop (a device is waiting for it). The rebuild may leave the room a live Y.Doc.
   */
  private current (): Uint8Array {
    if (this.recent.length === 0) return this.merged ?? EMPTY_UPDATE
    const live = this.liveDoc()
    if (live) {
      this.merged = Y.encodeStateAsUpdate(live)
      // Charged by its encoded size, which grows with the document.
      if (!this.recharge(this.merged.byteLength)) this.dropLive()
    } else if (this.merged === null && this.recent.length === 1) {
      this.merged = this.recent.at(0).slice() // its own bytes, not the log's buffer
    } else {
      this.ctx.metrics.rebuilds.inc()
      const built = buildDoc(this.parts(), this.mergeFailed)
      this.merged = built.update
      if (built.doc && !this.keepLive(built.doc)) built.doc.destroy()
    }
    this.recent.clear()
    this.liveApplied = 0
    this.syncMerges++
    this.stateVector = null
    return this.merged
  }

  /** `merged` and `recent`, for a merge. */
  private parts (): Uint8Array[] { return this.merged ? [this.merged, ...this.recent.all()] : this.recent.all() }

  private mergeFailed = (err: Error): void => {
    this.ctx.logger.error({ doc: this.name, err: err.message }, 'could not rebuild the document; merged its updates as bytes')
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
   * refuses, before anything is sent. `from` undefined: accepted without a socket (the server-side
   * document API), sent to every connection.
   */
  applyUpdate (update: Uint8Array, from: Connection | undefined, frame: Uint8Array): void {
    // The check refuses everything Yjs would throw on (update-check.ts): what is stored and sent applies.
    checkUpdateV1(update)
    // Copied into the room's log until the next merge (and kept by the store until its batch is
    // written): a view into the socket's read buffer would keep all of that buffer alive.
    const key = this.ctx.store.append(this.name, this.recent.push(update))
    this.appended++
    this.logEntries++
    this.logBytes += update.byteLength
    this.ctx.updates.publish(this.name, update, frame, from, key)
    const sid = from?.principal.sessionId
    if (sid !== undefined) this.ctx.editActivity?.(sid)
    // Compaction starts at the end of the turn, after the sockets' writes (turn-end.ts).
    if (!this.compacting && this.compactionDue()) deferRoom(this)
  }

  /**
   * An update on the bus: the room's own (already in its log, sent to all but `from`), or one another
   * node accepted and stored under `key` (`from` null), which joins the log without being stored again
   * and counts toward compaction (whichever node holds the lease compacts it). One the room loaded
   * from storage is skipped: its devices have it.
   */
  deliver (update: Uint8Array, frame: Uint8Array, from: Connection | null | undefined, key: string): void {
    if (from === null) {
      if (this.destroyed || (key !== '' && this.loadedKeys?.delete(key))) return
      checkUpdateV1(update)
      this.recent.push(update)
      if (key !== '') this.remoteKeys.push(key)
      this.logEntries++
      this.logBytes += update.byteLength
      if (!this.compacting && this.compactionDue()) deferRoom(this)
    }
    this.broadcast(frame, from ?? null)
  }

  /** Everything accepted so far, as one update (the bus republishes it after losing Redis). */
  state (): Uint8Array { return this.current() }

  runAtTurnEnd (): void { this.compactIfDue() }

  /**
   * Apply and forward a presence update. A connection speaks only for the awareness client ids it
   * announced first (or took over from another socket of its own device session, a reconnect whose old
   * socket has not closed yet): entries for ids another live connection owns are dropped, not applied
   * and not forwarded. Not an error: stock y-websocket clients send back every change they receive,
   * and time out the presence of peers they stop hearing from, so their updates often carry other
   * clients' entries. An update with nothing dropped is forwarded as it came.
   */
  receiveAwareness (from: Connection, update: Uint8Array, frame: Uint8Array): void {
    const entries = decodeAwarenessUpdate(update)
    const kept = entries.filter(entry => this.speaksFor(from, entry.clientID, entry.removed))
    if (kept.length === 0) return
    if (kept.length < entries.length) {
      update = encodeAwarenessEntries(kept)
      frame = encodeAwareness(update)
    }
    awarenessProtocol.applyAwarenessUpdate(this.presence(), update, from)
    this.broadcast(frame, from)
    this.ctx.updates.publishAwareness(this.name, update)
  }

  private presence (): awarenessProtocol.Awareness {
    if (!this.awareness) {
      // The doc only carries the awareness' clientID; like a built doc it is never a subdocument.
      this.awareness = new awarenessProtocol.Awareness(new Y.Doc({ guid: BUILT_DOC_GUID }))
      this.awareness.setLocalState(null) // the server has no presence of its own
    }
    return this.awareness
  }

  /**
   * Presence that devices on another node sent (that node applied the ownership rules): applied and
   * sent to every device here, except entries for ids a connection of this node owns. An entry not
   * renewed within --presence-timeout-ms is removed (devices renew theirs every 15 s; its node died).
   */
  deliverAwareness (update: Uint8Array): void {
    if (this.destroyed) return
    const entries = decodeAwarenessUpdate(update)
    const kept = entries.filter(entry => !this.presenceOwners.has(entry.clientID))
    if (kept.length === 0) return
    const remote = this.remotePresence ??= new Map()
    const now = performance.now()
    for (const entry of kept) {
      if (entry.removed) remote.delete(entry.clientID)
      else remote.set(entry.clientID, now)
    }
    if (kept.length < entries.length) update = encodeAwarenessEntries(kept)
    awarenessProtocol.applyAwarenessUpdate(this.presence(), update, 'remote')
    this.broadcast(encodeAwareness(update), null)
    if (!this.remotePresenceTimer && remote.size > 0) {
      this.remotePresenceTimer = setInterval(this.expireRemotePresence, Math.max(50, this.ctx.config.presenceTimeoutMs / 4))
      this.remotePresenceTimer.unref()
    }
  }

  private expireRemotePresence = (): void => {
    const remote = this.remotePresence
    const awareness = this.awareness
    if (!remote || !awareness) return
    const oldest = performance.now() - this.ctx.config.presenceTimeoutMs
    const gone: number[] = []
    for (const [id, at] of remote) if (at < oldest) gone.push(id)
    for (const id of gone) remote.delete(id)
    const ids = gone.filter(id => awareness.states.has(id))
    if (ids.length > 0) {
      awarenessProtocol.removeAwarenessStates(awareness, ids, 'timeout')
      this.broadcast(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(awareness, ids)), null)
    }
    if (remote.size === 0) this.stopRemotePresence()
  }

  private stopRemotePresence (): void {
    if (this.remotePresenceTimer) clearInterval(this.remotePresenceTimer)
    this.remotePresenceTimer = null
  }

  /** Whether `conn` may set (or remove) the presence of `clientID`; claims it when nobody owns it. */
  private speaksFor (conn: Connection, clientID: number, removed: boolean): boolean {
    const owner = this.presenceOwners.get(clientID)
    if (owner === conn) return true
    // A device on another node shows it: not this connection's to change.
    if (!owner && this.remotePresence?.has(clientID)) return false
    const sameSession = owner?.principal.sessionId !== undefined && owner.principal.sessionId === conn.principal.sessionId
    if (owner && !sameSession) return false
    // A removal claims nothing: the id stays free for the client that announces it.
    if (!owner && removed) return true
    if ((conn.awarenessIds?.size ?? 0) >= MAX_PRESENCE_IDS) return false
    owner?.awarenessIds?.delete(clientID)
    this.presenceOwners.set(clientID, conn)
    ;(conn.awarenessIds ??= new Set()).add(clientID)
    return true
  }

  encodeAllAwareness (): Uint8Array | null {
    if (!this.awareness) return null
    const ids = [...this.awareness.getStates().keys()]
    return ids.length === 0 ? null : encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids))
  }

  broadcast (frame: Uint8Array, except: Connection | null): void {
    for (const conn of this.connections) if (conn !== except) conn.send(frame)
  }

  /**
   * Merge the whole log into a snapshot (unload, shutdown): waits for a running compaction, then
   * compacts what is left. Resolves once the snapshot is handed to the store.
   */
  async compact (): Promise<void> {
    while (this.compacting) await this.compacting
    if (this.logEntries > 0 && !this.destroyed) await this.startCompaction()
  }

  /** Resolves once no compaction is running. */
  async settled (): Promise<void> {
    while (this.compacting) await this.compacting
  }

  /** Free the room. Callers compact first, except a purge. */
  destroy (): void {
    this.destroyed = true
    this.ctx.updates.unsubscribe(this.name, this)
    cancelRoom(this)
    this.dropLive()
    this.recent.clear()
    this.merged = null
    const awareness = this.awareness
    this.presenceOwners.clear()
    this.stopRemotePresence()
    this.remotePresence = null
    awareness?.destroy()
    awareness?.doc.destroy()
  }

  /**
   * A compaction re-encodes the whole document, so past the thresholds it also waits until the log holds
   * half the snapshot's bytes: each compaction of a big document then follows as many new bytes as it
   * writes, and the cost per update stays constant instead of growing with the document. A log of more
   * than 10× `--compact-entries` compacts regardless, which bounds what a cold load merges.
   */
  private compactionDue (): boolean {
    const { compactMaxEntries, compactMaxBytes } = this.ctx.config
    const past = this.logEntries > compactMaxEntries * this.compactAt || this.logBytes > compactMaxBytes * this.compactAt
    return past && (this.logBytes * 2 >= this.snapshotBytes || this.logEntries > compactMaxEntries * 10)
  }

  private compactIfDue (): void {
    if (!this.compacting && !this.destroyed && this.compactionDue()) void this.startCompaction()
  }

  /**
   * Claim the store's compaction lease, then merge `merged` and `recent` into a snapshot in the merge
   * worker. The room keeps accepting updates meanwhile; the snapshot covers those before the cut, and
   * the store keeps the log entries after it. Without the lease (another node compacts the document)
   * the merge only shrinks the room's memory.
   */
  private startCompaction (): Promise<void> {
    const compacting = this.ctx.store.claimCompaction(this.name)
      .catch((err: Error) => {
        this.ctx.logger.error({ doc: this.name, err: err.message }, 'could not claim the compaction lease; merging in memory only')
        return null
      })
      .then(claim => this.destroyed ? undefined : this.mergeAndStore(claim))
      .finally(() => {
        this.compacting = null
        // What arrived meanwhile may be due already; it compacts at the end of a turn, after the writes.
        if (!this.destroyed && this.compactionDue()) deferRoom(this)
      })
    this.compacting = compacting
    return compacting
  }

  private mergeAndStore (claim: Claim | null): Promise<void> {
    const cut: Cut = { recent: this.recent.length, syncMerges: this.syncMerges, appended: this.appended, entries: this.logEntries, bytes: this.logBytes, keys: this.remoteKeys.length, position: this.ctx.updates.seen(this.name) }
    // A snapshot another node wrote since this room loaded: the new one must hold it too.
    const parts = claim?.snapshot ? [claim.snapshot, ...this.parts()] : this.parts()
    const timer = this.ctx.metrics.compactionLatency.startTimer()
    const merging = parts.length === 1
      ? Promise.resolve(this.merged ?? parts[0]!.slice())
      : this.merger.merge(parts, this.mergeFailed).catch((err: Error) => {
        if (this.destroyed) return null
        this.ctx.logger.error({ doc: this.name, err: err.message }, 'the merge worker failed; compacting on the event loop')
        const built = buildDoc(parts, this.mergeFailed)
        built.doc?.destroy()
        return built.update
      })
    return merging
      .then(snapshot => {
        if (!snapshot || this.destroyed) return
        this.compacted(snapshot, cut, claim)
        timer()
      })
      .catch((err: Error) => this.ctx.logger.error({ doc: this.name, err: err.message }, 'compaction failed'))
  }

  private compacted (snapshot: Uint8Array, cut: Cut, claim: Claim | null): void {
    const remote = this.remoteKeys.slice(0, cut.keys)
    this.remoteKeys = this.remoteKeys.slice(cut.keys)
    this.loadedKeys = null
    if (claim) {
      void this.ctx.store.compact(this.name, snapshot, { pending: this.appended - cut.appended, remote, position: cut.position, token: claim.token })
        .then(written => { if (written) void this.ctx.updates.trim(this.name, cut.position) })
    }
    this.snapshotBytes = snapshot.byteLength
    this.logEntries -= cut.entries
    this.logBytes -= cut.bytes
    // Edited but not joined since the last compaction: the live Y.Doc is only memory now.
    if (!this.liveUsed) this.dropLive()
    this.liveUsed = false
    // A sync that merged meanwhile left `merged` ahead of the snapshot: the room keeps it.
    if (this.syncMerges !== cut.syncMerges) return
    // The live Y.Doc must stay `merged` plus the first `liveApplied` entries of `recent`.
    if (this.live) this.liveDoc()
    this.merged = snapshot
    this.recent.dropFirst(cut.recent)
    this.liveApplied = Math.max(0, this.liveApplied - cut.recent)
    this.stateVector = null
  }
}
