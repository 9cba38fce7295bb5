import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { CloseCode, encodeAwareness, encodeSyncStep1 } from '../../shared/protocol.js'
import type { Connection } from './connection.js'
import type { SyncContext } from './context.js'
import type { StoredDoc } from '../storage/doc-store.js'
import { cancelRoom, deferRoom } from './turn-end.js'
import { checkUpdateV1 } from './update-check.js'

/**
 * One loaded document and the connections editing it. The room sends each update's *same* encoded
 * frame to every other connection as soon as the update passes the check, then applies it once and
 * appends it to the store at the end of the turn.
 */
export class Room {
  readonly doc = new Y.Doc({ gc: true })
  // Created when the first presence arrives: most session documents never carry any, and each
  // Awareness holds maps and a 3-second timer of its own.
  private awareness: awarenessProtocol.Awareness | null = null
  readonly connections = new Set<Connection>()
  /** Checked and broadcast updates of this turn, applied together at its end (turn-end.ts). */
  private queued: Array<{ update: Uint8Array, from: Connection }> = []
  private logEntries: number
  private logBytes: number
  /** Size of the last snapshot (about: at load, the merged state less the log). */
  private snapshotBytes: number
  // Each room compacts somewhere in the last quarter before the thresholds, so documents under the same
  // load do not all compact in the same moment.
  private readonly compactAt = 0.75 + Math.random() * 0.25

  constructor (readonly name: string, stored: StoredDoc, private readonly ctx: SyncContext, private readonly onEmpty: (room: Room) => void) {
    if (stored.update) Y.applyUpdate(this.doc, stored.update)
    this.logEntries = stored.logEntries
    this.logBytes = stored.logBytes
    this.snapshotBytes = (stored.update?.byteLength ?? 0) - stored.logBytes
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
    this.applyQueued()
    return encodeSyncStep1(Y.encodeStateVector(this.doc))
  }

  /** What a peer with `stateVector` lacks. */
  diff (stateVector: Uint8Array): Uint8Array {
    this.applyQueued()
    return Y.encodeStateAsUpdate(this.doc, stateVector)
  }

  /**
   * Check now and fan out at once; apply and persist at the end of the turn, after the sockets have
   * written (turn-end.ts), so delivery does not wait for Yjs. Throws on an update Yjs could not read or
   * apply, before anything is sent or queued.
   */
  applyUpdate (update: Uint8Array, from: Connection, frame: Uint8Array): void {
    // The check refuses everything Yjs would throw on (update-check.ts), so what goes out applies.
    checkUpdateV1(update)
    this.broadcast(frame, from)
    this.queued.push({ update, from })
    if (this.queued.length === 1) deferRoom(this)
  }

  runAtTurnEnd (): void { this.applyQueued() }

  /**
   * Apply this turn's updates in arrival order inside one Yjs transaction (its fixed cost is most of
   * an update's), and persist each one that applied. Anything that reads the document calls this
   * first, so nobody sees it without an update it already accepted.
   */
  private applyQueued (): void {
    const batch = this.queued
    if (batch.length === 0) return
    this.queued = []
    cancelRoom(this)
    Y.transact(this.doc, () => {
      for (const { update, from } of batch) {
        try {
          Y.applyUpdate(this.doc, update, from)
          this.ctx.store.append(this.name, update)
        } catch (err) {
          // The check makes this unreachable for every update the fuzz tests produce; should Yjs still
          // throw, the update went out but is not stored, and the sender is ended. At the end of the
          // turn a throw would take the process down.
          from.close(CloseCode.badMessage, `invalid update: ${(err as Error).message}`)
          continue
        }
        this.logEntries++
        this.logBytes += update.byteLength
      }
    })
    this.compactIfDue()
  }

  receiveAwareness (from: Connection, update: Uint8Array, frame: Uint8Array): void {
    if (!this.awareness) {
      this.awareness = new awarenessProtocol.Awareness(this.doc)
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
    this.applyQueued()
    if (this.logEntries === 0) return
    const snapshot = Y.encodeStateAsUpdate(this.doc)
    this.ctx.store.compact(this.name, snapshot)
    this.snapshotBytes = snapshot.byteLength
    this.logEntries = 0
    this.logBytes = 0
  }

  /** Free the room. Updates still queued are dropped: callers compact first, except a purge. */
  destroy (): void {
    this.queued = []
    cancelRoom(this)
    this.awareness?.off('update', this.trackAwareness)
    this.awareness?.destroy()
    this.doc.destroy()
  }

  /**
   * Compaction re-encodes the whole document, so past the thresholds it also waits until the log holds
   * half the snapshot's bytes: each compaction of a big document then follows as many new bytes as it
   * writes, and the cost per update stays constant instead of growing with the document (5000 map edits
   * into one document: 11 compactions re-encoding 1.13 MB in all without the rule, 6 and 0.42 MB with it). A log of
   * more than 10× `--compact-entries` compacts regardless, which bounds what a cold load merges.
   */
  private compactIfDue (): void {
    const { compactMaxEntries, compactMaxBytes } = this.ctx.config
    const past = this.logEntries > compactMaxEntries * this.compactAt || this.logBytes > compactMaxBytes * this.compactAt
    if (past && (this.logBytes * 2 >= this.snapshotBytes || this.logEntries > compactMaxEntries * 10)) this.compactNow()
  }

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
