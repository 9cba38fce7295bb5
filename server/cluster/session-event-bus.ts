/** A device session ended (logout, remote sign-out, refresh reuse, expiry, …): its sockets close everywhere. */
export interface SessionEndedEvent {
  kind: 'session-ended'
  sessionId: string
  /** Why, as the identity layer names it; goes into the close reason. */
  reason: string
  /** The device is to delete its local data (revocation with wipe): said in the close reason. */
  wipe?: boolean
}

/** A user lost access to a document (removed or downgraded): their sockets on it close everywhere. */
export interface DocAccessRemovedEvent {
  kind: 'doc-access-removed'
  docName: string
  userId: string
}

/** A document was deleted (access to it first): every node closes its sockets and drops it. */
export interface DocDeletedEvent {
  kind: 'doc-deleted'
  docName: string
}

/** A security alert message for a user's devices, on every node's session-document sockets. */
export interface SecurityAlertEvent {
  kind: 'security-alert'
  userId: string
  /** The alert message as JSON (shared/api.ts SecurityAlertMessage). */
  message: string
  /** The session the alert is about: its own sockets are not told. */
  exceptSession?: string
}

/** What every node applies to the sockets it holds. */
export type SessionEvent = SessionEndedEvent | DocAccessRemovedEvent | DocDeletedEvent | SecurityAlertEvent

/** Applies an event on one node; a promise when applying it takes I/O (deleting a document). */
export type SessionEventHandler = (event: SessionEvent) => void | Promise<void>

/** Session events for every node: each node applies them to the sockets it holds. */
export interface SessionEventBus {
  /**
   * Apply on this node at once (its synchronous part before returning), and on every other node.
   * Resolves when this node has applied it.
   */
  publish (event: SessionEvent): Promise<void>
  close (): Promise<void>
}
