import type { Connection } from '../sync/connection.js'

/** What a loaded document (a Room) takes from the bus. */
export interface DocUpdateSubscriber {
  /**
   * An accepted update of the document. `frame` is its encoded sync message. `from` is the local
   * connection it came through (not sent back to it), undefined for one this node accepted without a
   * connection (the server-side document API: sent to every connection), or null for an update
   * accepted by another node, which the subscriber has not seen yet. `key` is the store key of an
   * update from another node (DocStore.append), '' otherwise.
   */
  deliver (update: Uint8Array, frame: Uint8Array, from: Connection | null | undefined, key: string): void
  /** A presence (awareness) update another node's devices sent. */
  deliverAwareness (update: Uint8Array): void
  /** Everything the subscriber holds, as one update: sent again when updates may not have reached the other nodes. */
  state (): Uint8Array
}

/**
 * Fan-out of accepted document updates to every device of the document, on this node and on the others.
 * Positions are bus positions (Redis stream ids; '' in one process). A room subscribes from the
 * position its stored state holds every update up to (StoredDoc.position), so an update accepted
 * anywhere after it reaches the room, whenever the load ran.
 */
export interface DocUpdateBus {
  /** Deliver every update after position `from` ('' = the oldest the bus keeps), then each new one. */
  subscribe (doc: string, from: string, subscriber: DocUpdateSubscriber): void
  unsubscribe (doc: string, subscriber: DocUpdateSubscriber): void
  /** Deliver to the local subscriber at once (before returning), and to the other nodes with `key`. */
  publish (doc: string, update: Uint8Array, frame: Uint8Array, from: Connection | undefined, key: string): void
  /**
   * The position up to which the subscriber of `doc` has every update: those delivered, and its own
   * (which it holds before they are published). '' when unknown.
   */
  /** Hand a presence update of this node's devices to the other nodes holding `doc` (not back here). */
  publishAwareness (doc: string, update: Uint8Array): void
  seen (doc: string): string
  /** A snapshot holding every update up to `upTo` is stored: the bus may forget them. Never rejects. */
  trim (doc: string, upTo: string): Promise<void>
  close (): Promise<void>
}
