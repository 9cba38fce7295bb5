import { CloseCode } from '../../shared/protocol.js'
import type { ServerConfig } from '../config.js'
import { proxyTrust } from '../transport/client-ip.js'
import type { Logger } from '../observe/logger.js'
import type { Metrics } from '../observe/metrics.js'
import type { Rooms } from '../sync/rooms.js'
import type { SessionSockets } from '../sync/session-sockets.js'
import type { SessionEventBus, SessionEventHandler } from '../cluster/session-event-bus.js'
import type { SharedState } from '../cluster/shared-state.js'
import { AccessTokens } from './access-token.js'
import { Drafts } from '../access/drafts.js'
import { ExpirySweeper } from './expiry-sweeper.js'
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
 * on `sessionEvents`, which closes their sockets (4403) on every node, changed draft access closes the affected sockets (4409). The HTTP
 * layer registers its routes (identity-routes.ts).
 */
export const setupIdentity = async (config: ServerConfig, store: SessionStore, logger: Logger, metrics: Metrics, sockets: SessionSockets, sessionEvents: SessionEventBus, rooms: () => Rooms,
  shared: SharedState, keyStore?: KeyStore) => {
  // Keys in the store's database when it has a key store (PostgreSQL: every node), taking over the data dir's files.
  const keys = keyStore ? await KeyRing.open(keyStore, new FileKeyStore(config.dataDir)) : await KeyRing.open(config.dataDir)
  const tokens = new AccessTokens(keys, config.accessTokenTtlMs)
  const identity = new Identity(store, tokens, config, logger,
    (sessionId, reason) => sessionEvents.publish({ sessionId, reason }),
    sessionId => shared.online.count(sessionId),
    new SecurityLog(store, logger, metrics.securityEvents), shared)
  const drafts = new Drafts(store,
    (docName, userId) => { void rooms().closeUserSockets(docName, userId, CloseCode.accessChanged, 'document access changed') },
    docName => rooms().purge(docName, CloseCode.accessChanged, 'document deleted'),
    new HourlyBudget(shared.limiters, 'member-add', config.memberAddsPerHour))
  const sweeper = new ExpirySweeper(identity, sockets)
  sockets.onSessionOffline = sessionId => sweeper.unwatch(sessionId)
  const hooks = socketAuthHooks(identity, drafts, proxyTrust(config.trustedProxies, config.publicUrl), a => sweeper.watch(a.session))
  return {
    identity,
    /** Pairing a device by code (RFC 8628). */
    pairing: new Pairing(store, identity, config),
    passkeys: new Passkeys(store, identity, config),
    drafts,
    hooks,
    /** Sessions with live sockets, each waiting for its idle or absolute deadline. */
    sweeper,
    /** The public verification keys (JWKS). */
    jwks: () => keys.jwks(),
    /** Pick up keys added by `npm run keys:rotate` without a restart. */
    reloadKeys: () => keys.reload(),
    /** Close the sockets of sessions that ended or expired without this node hearing of it. */
    recheckSessions: (closeEnded: SessionEventHandler) => recheckLiveSessions(store, identity, sockets, closeEnded),
    stop: () => sweeper.stop()
  }
}
