import type { Connection } from '../sync/connection.js'

/** What a loaded document (a Room) takes from the bus. */
export interface DocUpdateSubscriber {
  /**
   * An accepted update of the document. `frame` is its encoded sync message. `from` is the local
   * connection it came through (not sent back to it), undefined for one this node accepted without a
   * connection (the server-side document API: sent to every connection), or null for an update
   * accepted by another node, which the subscriber has not seen yet.
   */
  deliver (update: Uint8Array, frame: Uint8Array, from: Connection | null | undefined): void
}

/**
 * Fan-out of accepted document updates to every device of the document, on this node and on the others.
 * A room subscribes from the position `position` returned BEFORE it loaded the document from storage,
 * so an update accepted anywhere between that load and the subscription still reaches it.
 */
export interface DocUpdateBus {
  /** Where a subscription made after loading `doc` starts; read it before loading. */
  position (doc: string): Promise<string>
  subscribe (doc: string, from: string, subscriber: DocUpdateSubscriber): void
  unsubscribe (doc: string, subscriber: DocUpdateSubscriber): void
  /** Deliver to the local subscriber at once (before returning), and to the other nodes. */
  publish (doc: string, update: Uint8Array, frame: Uint8Array, from: Connection | undefined): void
  close (): Promise<void>
}
