import type { IncomingMessage } from 'node:http'

/** Who is on the other end of a socket, and what they may do with the document. */
export interface Principal {
  userId: string
  /** The device session this socket belongs to; sockets are closed by session on revocation. */
  sessionId?: string
  access: 'read' | 'write'
  /** When the credential that opened the socket expires (ms since epoch); the socket closes 4401 then. */
  expiresAt?: number
}

/** Thrown by an authenticate hook: the upgrade is answered with this HTTP status and no socket opens. */
export class AuthRejection extends Error {
  constructor (readonly status: 401 | 403 | 404 | 429, readonly code: string, message: string) {
    super(message)
  }
}

/** Called once per upgrade, before the WebSocket is accepted. */
export type AuthenticateHook = (request: IncomingMessage, docName: string) => Promise<Principal>

/**
 * Called for an in-band `reauth` message (shared/protocol.ts) with a fresh access token. Resolves to
 * the renewed principal, which must belong to the same user and device session, or rejects.
 */
export type ReauthenticateHook = (token: string, docName: string, current: Principal) => Promise<Principal>
