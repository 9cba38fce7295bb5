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
  /** May use the admin API (granted by `npm run admin -- grant <email>`). */
  admin?: boolean
  /** Disabled by an admin (ms): sign-in, refresh and sockets are refused. */
  disabledAt?: number
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
  /** An anomaly asked for a step-up: sensitive acts need a second factor proven after this time (ms). */
  stepUpRequiredAt?: number
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
  /** The device's last poll while pending (ms) and the interval it must keep now (s): RFC 8628 `slow_down`. */
  lastPollAt?: number
  pollIntervalS?: number
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

/**
 * A key an app backend uses for the server-side document API (`Authorization: Bearer ssk_<id>.<secret>`).
 * Only the secret's SHA-256 is stored; the secret is shown once, when the key is created.
 */
export interface ApiKeyRecord {
  /** Public part of the key, unique. */
  id: string
  /** SHA-256 (base64url) of the secret part. */
  secretHash: string
  /** e.g. `docs:read`, `docs:write`. */
  scopes: string[]
  name: string
  createdAt: number
  revokedAt?: number
}

/**
 * A stored security event (server/identity/security-events.ts): identifiers and a reason, never
 * secrets or document content. Kept for the retention window, then deleted.
 */
export interface SecurityEventRecord {
  /** Unique, and sorts by time: `securityEventId(at)`. The paging cursor of `securityEvents`. */
  id: string
  at: number
  kind: string
  userId?: string
  sessionId?: string
  ip?: string
  userAgent?: string
  reason?: string
  /** Anomaly score, 0–100; absent when the event was not scored. */
  score?: number
  /** A few more facts (a signal's inputs, an admin's target): small values only. */
  detail?: Record<string, string | number | boolean>
}

/** Newest first: events of one user or of everyone, optionally of some kinds, in [since, until). */
export interface SecurityEventQuery {
  userId?: string
  kinds?: string[]
  since?: number
  until?: number
  /** Only events older than this id (the last id of the previous page). */
  before?: string
  limit: number
}

const EVENT_TIME_DIGITS = 15

/** The fixed-width time prefix of event ids: ids of events at or after `time` sort at or after it. */
export const securityEventTimeKey = (time: number): string => String(Math.max(0, Math.floor(time))).padStart(EVENT_TIME_DIGITS, '0')

/**
 * One socket's time on the server, for analytics (server/analytics/): who, which device session,
 * from when to when (`end` moves while the socket lives) and how many updates it sent. Never document
 * content. Kept only within the analytics retention window.
 */
export interface ActivityRecord {
  /** Unique per socket; rewriting a record with the same id replaces it. */
  id: string
  userId: string
  sessionId: string
  start: number
  end: number
  edits: number
}

/** A day's analytics figures by name (integers). `day` counts UTC days since the epoch. */
export interface DailyFigures { day: number, values: Record<string, number> }

export interface SessionStore {
  createUser (user: UserRecord): Promise<boolean>
  userById (id: string): Promise<UserRecord | undefined>
  /** `email` in canonical form. */
  userByEmail (email: string): Promise<UserRecord | undefined>
  putUser (user: UserRecord): Promise<void>

  putSession (s: SessionRecord): Promise<void>
  sessionById (id: string): Promise<SessionRecord | undefined>
  /**
   * Applies `change` to the session as stored and writes it when `change` returns true; resolves with
   * the record as stored (changed or not), undefined when there is none. Updates of one session run
   * one at a time on every node sharing the store: each sees the record the previous one wrote.
   * `change` must be synchronous and free of side effects beyond the record (it may run again).
   */
  updateSession (id: string, change: (current: SessionRecord) => boolean): Promise<SessionRecord | undefined>
  /** The sessions that are `listed` (below): live ones, and ended ones whose wipe is still pending. */
  sessionsOfUser (userId: string): Promise<SessionRecord[]>
  /**
   * Up to `limit` sessions (ended ones too) last seen before `time` that still hold an IP address
   * (`lastIp` not empty), for the retention sweep.
   */
  sessionsSeenBefore (time: number, limit: number): Promise<SessionRecord[]>
  /**
   * Removes every record of the account: the user and its email, all its sessions (ended ones too)
   * with their refresh-hash entries, its passkeys, the device grants it decided, its security events,
   * the drafts it still owns and its memberships in others'. Document content is not the store's (DocStore.destroy).
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
  /**
   * Applies `change` to the grant as stored and writes it when `change` returns true; resolves with the
   * grant as stored (changed or not), undefined when there is none. Updates of one grant run one at a
   * time on every node sharing the store, as `updateSession`'s do; `change` has the same contract.
   */
  updateDeviceGrant (id: string, change: (current: DeviceGrantRecord) => boolean): Promise<DeviceGrantRecord | undefined>
  /** True when this call removed the grant: of two nodes deleting one grant at once, one gets true. */
  deleteDeviceGrant (g: DeviceGrantRecord): Promise<boolean>
  /** Up to `limit` grants whose `expiresAt` is before `time`, oldest first. */
  deviceGrantsExpiredBefore (time: number, limit: number): Promise<DeviceGrantRecord[]>

  /** Inserts a passkey; false (and nothing written) when its credential ID is already registered. */
  createPasskey (p: PasskeyRecord): Promise<boolean>
  /** Replaces an existing passkey (counter, name, last use). */
  putPasskey (p: PasskeyRecord): Promise<void>
  passkeyById (id: string): Promise<PasskeyRecord | undefined>
  passkeysOfUser (userId: string): Promise<PasskeyRecord[]>
  deletePasskey (p: PasskeyRecord): Promise<void>

  /** Inserts or replaces an API key. */
  putApiKey (k: ApiKeyRecord): Promise<void>
  apiKeyById (id: string): Promise<ApiKeyRecord | undefined>
  /** Every key, revoked ones included, in id order. */
  apiKeys (): Promise<ApiKeyRecord[]>

  addSecurityEvent (e: SecurityEventRecord): Promise<void>
  securityEvents (q: SecurityEventQuery): Promise<SecurityEventRecord[]>
  /** Deletes up to `limit` events older than `time`, oldest first; resolves with how many went. */
  deleteSecurityEventsBefore (time: number, limit: number): Promise<number>

  /** Up to `limit` users whose email starts with `prefix` and sorts after `after`, in email order. */
  usersByEmailPrefix (prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]>

  /** Adds each count to the day's figure of that name (atomic: concurrent nodes never lose one). */
  addDailyCounts (day: number, counts: Record<string, number>): Promise<void>
  /** Sets the day's figures of these names, replacing what they were. */
  setDailyValues (day: number, values: Record<string, number>): Promise<void>
  /** Figures of days `from` ≤ day < `to`, by day; days without any are left out. */
  dailyFigures (from: number, to: number): Promise<DailyFigures[]>
  /** Inserts or replaces (by id) sockets' activity, in one write. */
  putActivities (records: ActivityRecord[]): Promise<void>
  /** Up to `limit` activity records with `end` ≥ `from` and `start` < `to`, by start. */
  activityBetween (from: number, to: number, limit: number): Promise<ActivityRecord[]>
  /** Deletes up to `limit` activity records that ended before `time`; how many were deleted. */
  deleteActivityBefore (time: number, limit: number): Promise<number>
}
