/**
 * How many sockets each device session has open, for the session dashboard's "online now". One node
 * counts its own sockets (local-online-counts.ts); a cluster sums every live node's counts on Redis
 * (redis-online-counts.ts).
 */
export interface OnlineCounts {
  /** Open sockets of the session, on every node. */
  count (sessionId: string): Promise<number>
  close (): Promise<void>
}
