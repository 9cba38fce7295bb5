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
  /** Last contact of any kind (API call, socket, refresh): shown on the dashboard, no effect on expiry. */
  lastSeenAt: number
  /** Last user activity (reported by the client, or an accepted edit): idle expiry counts from it. Absent: since sign-in. */
  lastActiveAt?: number
  /** Cleared by the retention sweep once the session was last seen longer ago than the retention period. */
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
  /** The policy when the session started; informational: deadlines follow the policy in force (expiry-policy.ts). */
  idleTimeoutMs: number
  absoluteExpiresAt: number
  endedAt?: number
  /** A SessionEndReason (shared/api.ts); older records may hold `revoked` or `expired`. */
  endReason?: string
  /** Revoked with a request to wipe the device; `wipeDeliveredAt` once the device was told. */
  wipe?: boolean
  wipeDeliveredAt?: number
}

/** Whether `sessionsOfUser` lists a session: while it is live, and after its end while a wipe request waits for its device. */
export const listedSession = (s: Pick<SessionRecord, 'endedAt' | 'wipe' | 'wipeDeliveredAt'>): boolean =>
  !s.endedAt || (s.wipe === true && !s.wipeDeliveredAt)

export interface DocRecord {
  id: string
  title: string
  ownerId: string
  createdAt: number
  updatedAt: number
  /** userId → role, for everyone but the owner. */
  members: Record<string, 'editor' | 'viewer'>
}

/**
 * A pending request of a new device to be paired by code (RFC 8628). Lives until a few minutes past
 * its expiry (`deviceGrantsExpiredBefore` finds it for removal) or until its device code is redeemed.
 */
export interface DeviceGrantRecord {
  /** SHA-256 (base64url) of the device code: the code itself is never stored. */
  id: string
  /** Canonical user code: 8 letters, no hyphen. Unique among stored grants. */
  userCode: string
  deviceName: string
  platform: string
  /** The requesting device's address and user agent, shown on the approval screen. */
  ip: string
  userAgent: string
  /** JWK thumbprint of the requesting device's DPoP key: the only key the new session may bind to. */
  jkt: string
  createdAt: number
  expiresAt: number
  status: 'pending' | 'approved' | 'denied'
  /** How often the user code was entered (looked up, approved, denied). */
  entries: number
  /** Set by the decision: the account, and the session that approved or denied. */
  userId?: string
  decidedBy?: string
  decidedAt?: number
}

/** A registered passkey (WebAuthn credential). */
export interface PasskeyRecord {
  /** Credential ID, base64url. Unique across all accounts. */
  id: string
  userId: string
  /** COSE public key, base64url. */
  publicKey: string
  /** The authenticator's signature counter as last seen (0 for authenticators that keep none). */
  counter: number
  transports?: string[]
  name: string
  deviceType: 'singleDevice' | 'multiDevice'
  backedUp: boolean
  aaguid: string
  createdAt: number
  lastUsedAt?: number
}

export interface SessionStore {
  createUser (user: UserRecord): Promise<boolean>
  userById (id: string): Promise<UserRecord | undefined>
  /** `email` in canonical form. */
  userByEmail (email: string): Promise<UserRecord | undefined>
  putUser (user: UserRecord): Promise<void>

  putSession (s: SessionRecord): Promise<void>
  sessionById (id: string): Promise<SessionRecord | undefined>
  /** The sessions that are `listed` (below): live ones, and ended ones whose wipe is still pending. */
  sessionsOfUser (userId: string): Promise<SessionRecord[]>
  /**
   * Up to `limit` sessions (ended ones too) last seen before `time` that still hold an IP address
   * (`lastIp` not empty), for the retention sweep.
   */
  sessionsSeenBefore (time: number, limit: number): Promise<SessionRecord[]>
  /**
   * Removes every record of the account: the user and its email, all its sessions (ended ones too)
   * with their refresh-hash entries, its passkeys, the device grants it decided, the drafts it still
   * owns and its memberships in others'. Document content is not the store's (DocStore.destroy).
   */
  deleteAccount (userId: string): Promise<void>
  /** Maps every refresh-token hash ever issued to its session, so a replayed one finds its session. */
  indexRefreshHash (hash: string, sessionId: string): Promise<void>
  sessionIdByRefreshHash (hash: string): Promise<string | undefined>

  putDoc (d: DocRecord): Promise<void>
  docById (id: string): Promise<DocRecord | undefined>
  deleteDoc (d: DocRecord): Promise<void>
  docsOfUser (userId: string): Promise<DocRecord[]>

  /** Inserts or replaces a grant. `userCode` is unique among stored grants (the caller picks a free one; `expiresAt` never changes). */
  putDeviceGrant (g: DeviceGrantRecord): Promise<void>
  /** By the device code's hash. */
  deviceGrantById (id: string): Promise<DeviceGrantRecord | undefined>
  /** `userCode` in canonical form. */
  deviceGrantByUserCode (userCode: string): Promise<DeviceGrantRecord | undefined>
  deleteDeviceGrant (g: DeviceGrantRecord): Promise<void>
  /** Up to `limit` grants whose `expiresAt` is before `time`, oldest first. */
  deviceGrantsExpiredBefore (time: number, limit: number): Promise<DeviceGrantRecord[]>

  /** Inserts a passkey; false (and nothing written) when its credential ID is already registered. */
  createPasskey (p: PasskeyRecord): Promise<boolean>
  /** Replaces an existing passkey (counter, name, last use). */
  putPasskey (p: PasskeyRecord): Promise<void>
  passkeyById (id: string): Promise<PasskeyRecord | undefined>
  passkeysOfUser (userId: string): Promise<PasskeyRecord[]>
  deletePasskey (p: PasskeyRecord): Promise<void>
}
