/** A device session ended (logout, remote sign-out, refresh reuse, expiry, …): its sockets close everywhere. */
export interface SessionEndedEvent {
  sessionId: string
  /** Why, as the identity layer names it; goes into the close reason. */
  reason: string
  /** The device is to delete its local data (revocation with wipe): said in the close reason. */
  wipe?: boolean
}

export type SessionEventHandler = (event: SessionEndedEvent) => void

/** Session events for every node: each node applies them to the sockets it holds. */
export interface SessionEventBus {
  /** Apply on this node at once (before returning), and on every other node. */
  publish (event: SessionEndedEvent): void
  close (): Promise<void>
}
