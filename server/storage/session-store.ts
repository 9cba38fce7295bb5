/**
 * Persistent identity state behind one interface, so the identity service never sees the database.
 * Implementations: `level/session-store.ts` and `postgres/session-store.ts` (`--store`), held to the
 * same cases by test/storage/session-store-contract.test.ts.
 */
export interface UserRecord {
  id: string
  /** Canonical form (server/identity/email.ts): the key accounts are found by. */
  email: string
  passwordHash: string
  createdAt: number
  /** Enabled TOTP secret (base32). */
  mfaSecret?: string
  /** Enrolled but not yet confirmed. */
  mfaPendingSecret?: string
  /** Hashes of unused recovery codes. */
  recoveryHashes?: string[]
  /** Last accepted TOTP time step, so a code is never accepted twice. */
  lastTotpStep?: number
}

export interface SessionRecord {
  id: string
  userId: string
  deviceName: string
  platform: string
  userAgent: string
  createdAt: number
  lastSeenAt: number
  lastIp: string
  /** JWK thumbprint of the device key the session is bound to (DPoP). */
  jkt: string
  amr: string[]
  /** When the second factor was last proven (ms). */
  mfaAt?: number
  /** Hash of the refresh token that is valid now. */
  refreshHash: string
  /** The token rotated last, its rotation time and its successor sealed with it (grace retries). */
  prevRefreshHash?: string
  prevRotatedAt?: number
  prevSealedSuccessor?: string
  idleTimeoutMs: number
  absoluteExpiresAt: number
  endedAt?: number
  endReason?: string
}

export interface DocRecord {
  id: string
  title: string
  ownerId: string
  createdAt: number
  updatedAt: number
  /** userId → role, for everyone but the owner. */
  members: Record<string, 'editor' | 'viewer'>
}

export interface SessionStore {
  createUser (user: UserRecord): Promise<boolean>
  userById (id: string): Promise<UserRecord | undefined>
  /** `email` in canonical form. */
  userByEmail (email: string): Promise<UserRecord | undefined>
  putUser (user: UserRecord): Promise<void>

  putSession (s: SessionRecord): Promise<void>
  sessionById (id: string): Promise<SessionRecord | undefined>
  sessionsOfUser (userId: string): Promise<SessionRecord[]>
  /** Maps every refresh-token hash ever issued to its session, so a replayed one finds its session. */
  indexRefreshHash (hash: string, sessionId: string): Promise<void>
  sessionIdByRefreshHash (hash: string): Promise<string | undefined>

  putDoc (d: DocRecord): Promise<void>
  docById (id: string): Promise<DocRecord | undefined>
  deleteDoc (d: DocRecord): Promise<void>
  docsOfUser (userId: string): Promise<DocRecord[]>
}
