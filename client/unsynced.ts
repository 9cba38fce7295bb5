/**
 * Exact "has unsynced changes" bookkeeping, from state vectors plus confirmation round trips.
 *
 * What the server has is learned from (a) its sync step 1 (its state vector), (b) every update or
 * step 2 it sends (their per-client clock ranges), and (c) probes: the server handles a socket's
 * frames in order, so the step 2 answering a step 1 we sent proves that every update we sent before
 * that step 1 has been applied. A probe therefore confirms the local state vector captured when it
 * was sent, provided everything local had been sent by then (`allSent`).
 *
 * Deletions add no clocks to a state vector, so local updates carrying deletions are tracked by a
 * sequence number that probes confirm the same way.
 */
import * as Y from 'yjs'

export interface Probe { sv: Map<number, number>, seq: number }

/**
 * What survives a restart (kept in the local cache): the clocks the server was known to hold, and
 * whether local deletions were still unconfirmed. Saved whenever the unsynced flag flips.
 */
export interface UnsyncedState { confirmed: Array<[number, number]>, pendingDeletes: boolean }

const hasDeletions = (update: Uint8Array): boolean => {
  try { return Y.decodeUpdate(update).ds.clients.size > 0 } catch { return true }
}

export class UnsyncedTracker {
  /** Per client, the clock up to which the server is known to hold this document's structs. */
  private readonly confirmed = new Map<number, number>()
  private localSeq = 0
  private deleteSeq = 0
  private confirmedSeq = 0

  constructor (private readonly doc: Y.Doc) {}

  /** A local (not-from-server) update: edits, or state loaded from the local cache. */
  noteLocal (update: Uint8Array): void {
    this.localSeq++
    if (hasDeletions(update)) this.deleteSeq = this.localSeq
  }

  /** The server's own state vector (its sync step 1). */
  noteServerStateVector (sv: Uint8Array): void { this.merge(Y.decodeStateVector(sv)) }

  /** Content the server sent holds, per client, everything up to its last clock. */
  noteServerUpdate (update: Uint8Array): void {
    try { this.merge(Y.parseUpdateMeta(update).to) } catch { /* malformed: Y.applyUpdate already complained */ }
  }

  /** Snapshot for a probe; only meaningful when every local change so far has been sent. */
  probe (): Probe { return { sv: Y.decodeStateVector(Y.encodeStateVector(this.doc)), seq: this.localSeq } }

  confirm (p: Probe): void {
    this.merge(p.sv)
    this.confirmedSeq = Math.max(this.confirmedSeq, p.seq)
  }

  get hasUnsynced (): boolean {
    if (this.deleteSeq > this.confirmedSeq) return true
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(this.doc))) {
      if (clock > (this.confirmed.get(client) ?? 0)) return true
    }
    return false
  }

  exportState (): UnsyncedState {
    return { confirmed: [...this.confirmed], pendingDeletes: this.deleteSeq > this.confirmedSeq }
  }

  /** Seed from an earlier run, after the cached content was loaded (and noted as local). */
  seed (state: UnsyncedState): void {
    this.merge(new Map(state.confirmed))
    if (!state.pendingDeletes) this.confirmedSeq = Math.max(this.confirmedSeq, this.localSeq)
  }

  private merge (sv: Map<number, number>) {
    for (const [client, clock] of sv) if (clock > (this.confirmed.get(client) ?? 0)) this.confirmed.set(client, clock)
  }
}
