import type { ServerConfig } from '../config.js'
import { proxyTrust } from '../transport/client-ip.js'
import type { Logger } from '../observe/logger.js'
import type { Metrics } from '../observe/metrics.js'
import type { Rooms } from '../sync/rooms.js'
import type { SessionSockets } from '../sync/session-sockets.js'
import type { SessionEndedEvent, SessionEventBus } from '../cluster/session-event-bus.js'
import type { SharedState } from '../cluster/shared-state.js'
import { AccessTokens } from './access-token.js'
import { Drafts } from '../access/drafts.js'
import { ExpirySweeper } from './expiry-sweeper.js'
import { ActivityTracker, activityThrottleMs } from './activity.js'
import { AccountDeletion } from './account-deletion.js'
import { RetentionSweep } from './retention.js'
import { CloseCode, sessionEndedCloseReason } from '../../shared/protocol.js'
import { Identity } from './identity.js'
import { KeyRing } from './keys.js'
import { Pairing } from './pairing.js'
import { Passkeys } from './passkeys.js'
import { HourlyBudget } from './rate-limits.js'
import { SecurityLog } from './security-events.js'
import type { SessionStore } from '../storage/session-store.js'
import type { KeyStore } from './key-store.js'
import { FileKeyStore } from './file-key-store.js'
import { recheckLiveSessions } from './session-recheck.js'
import { socketAuthHooks } from './socket-auth.js'

export type IdentitySetup = Awaited<ReturnType<typeof setupIdentity>>

/**
 * Builds identity on the given store and connects it to the sync layer: ended sessions are published
 * on `sessionEvents`, which closes their sockets (4403) on every node; so are changes of draft access,
 * which close the affected sockets (4409) on every node. The HTTP layer registers its routes
 * (identity-routes.ts).
 */
export const setupIdentity = async (config: ServerConfig, store: SessionStore, logger: Logger, metrics: Metrics, sockets: SessionSockets, sessionEvents: SessionEventBus, rooms: () => Rooms,
  shared: SharedState, keyStore?: KeyStore) => {
  // Keys in the store's database when it has a key store (PostgreSQL: every node), taking over the data dir's files.
  const keys = keyStore ? await KeyRing.open(keyStore, new FileKeyStore(config.dataDir)) : await KeyRing.open(config.dataDir)
  const tokens = new AccessTokens(keys, config.accessTokenTtlMs)
  const identity = new Identity(store, tokens, config, logger,
    (sessionId, reason, wipe) => { void sessionEvents.publish({ kind: 'session-ended', sessionId, reason, wipe }) },
    sessionId => shared.online.count(sessionId),
    new SecurityLog(store, logger, metrics.securityEvents), shared)
  const drafts = new Drafts(store,
    (docName, userId) => { void sessionEvents.publish({ kind: 'doc-access-removed', docName, userId }) },
    docName => sessionEvents.publish({ kind: 'doc-deleted', docName }),
    new HourlyBudget(shared.limiters, 'member-add', config.memberAddsPerHour))
  const sweeper = new ExpirySweeper(identity, sockets)
  const activity = new ActivityTracker(identity, activityThrottleMs(identity.policy.idleTimeoutMs), logger)
  sockets.onSessionOffline = sessionId => { sweeper.unwatch(sessionId); activity.forget(sessionId) }
  const retention = new RetentionSweep(store, config.retentionDays, logger)
  retention.start()
  /** A document's whole state, through its room (loaded for the read, unloaded after the grace period). */
  const readDoc = async (name: string): Promise<Uint8Array> => {
    const r = rooms()
    const room = await r.acquire(name)
    try { return room.diff(Uint8Array.of(0)) } finally { r.release(name) }
  }
  const deletion = new AccountDeletion(store, identity, drafts,
    name => rooms().purge(name, CloseCode.sessionEnded, sessionEndedCloseReason('account_deleted')))
  const hooks = socketAuthHooks(identity, drafts, proxyTrust(config.trustedProxies, config.publicUrl), a => sweeper.watch(a.session))
  return {
    identity,
    /** Pairing a device by code (RFC 8628). */
    pairing: new Pairing(store, identity, config),
    passkeys: new Passkeys(store, identity, config, shared.challenges),
    drafts,
    hooks,
    /** Sessions with live sockets, each waiting for its idle or absolute deadline. */
    sweeper,
    /** Edits and reported activity move a session's idle deadline (throttled per session). */
    activity,
    /** `DELETE /me`. */
    deletion,
    /** `GET /me/export`: reads each owned document's state; at most `exportsPerHour` per account. */
    exports: { readDoc, budget: new HourlyBudget(shared.limiters, 'export', config.exportsPerHour) },
    /** Security events and IP addresses past `--retention-days`. */
    retention,
    /** The public verification keys (JWKS). */
    jwks: () => keys.jwks(),
    /** Pick up keys added by `npm run keys:rotate` without a restart. */
    reloadKeys: () => keys.reload(),
    /** Close the sockets of sessions that ended or expired without this node hearing of it. */
    recheckSessions: (closeEnded: (ended: SessionEndedEvent) => void) => recheckLiveSessions(store, identity, sockets, closeEnded),
    stop: () => { sweeper.stop(); void retention.stop() }
  }
}
