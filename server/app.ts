import fs from 'node:fs/promises'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import cors from '@fastify/cors'
import Fastify, { LogController, type FastifyInstance, type FastifyBaseLogger } from 'fastify'
import { Level } from 'level'
import type { ServerConfig } from './config.js'
import { createLogger, type Logger } from './observe/logger.js'
import { createMetrics, type Metrics } from './observe/metrics.js'
import { LevelDocStore } from './storage/level/doc-store.js'
import { LevelSessionStore } from './storage/level/session-store.js'
import type { DocStore } from './storage/doc-store.js'
import type { SessionStore } from './storage/session-store.js'
import { Rooms } from './sync/rooms.js'
import { SessionSockets } from './sync/session-sockets.js'
import { createUpgradeHandler } from './transport/upgrade.js'
import { proxyTrust } from './transport/client-ip.js'
import { ExpiryClock } from './sync/expiry-clock.js'
import type { AuthenticateHook, ReauthenticateHook } from './transport/auth-hook.js'
import type { SyncContext } from './sync/context.js'
import { healthRoutes } from './http/health.js'
import { demoRoutes } from './http/demo.js'
import { apiErrorHandler } from './http/api-failure.js'
import { setupIdentity, type IdentitySetup } from './identity/setup.js'
import { identityRoutes } from './http/identity-routes.js'
import { LiveDocBudget } from './sync/live-doc-budget.js'
import type { Merger } from './yjs/merger.js'
import { openBuses } from './cluster/index.js'
import type { SessionEndedEvent, SessionEventHandler } from './cluster/session-event-bus.js'
import type { KeyStore } from './identity/key-store.js'
import { CloseCode, sessionEndedCloseReason } from '../shared/protocol.js'
import { HookRunner, type ServerHooks } from './hooks/hooks.js'
import { WebhookSender } from './hooks/webhooks.js'
import { observedBus } from './hooks/observed-bus.js'
import { ApiKeys } from './docapi/api-keys.js'
import { SessionDocs } from './docapi/session-docs.js'
import { docApiRoutes } from './http/docapi-routes.js'
import { setupAnomaly } from './anomaly/setup.js'
import { sendAlertHere } from './anomaly/alerts.js'
import { recheckDraftAccess } from './access/draft-recheck.js'
import type { Locate } from './anomaly/geo.js'
import { alertRoutes } from './http/alert-routes.js'
import { Admin } from './admin/admin.js'
import { Analytics } from './analytics/analytics.js'
import { adminRoutes } from './http/admin-routes.js'

export interface AppOptions {
  /** Replaces the configured authentication (tests and embedders). */
  authenticate?: AuthenticateHook
  reauthenticate?: ReauthenticateHook
  logger?: Logger
  /** Replaces the merge worker rooms compact in (tests). */
  merger?: Merger
  /** Server-side hooks: document changes, session starts and ends, security events (hooks/hooks.ts). */
  hooks?: ServerHooks
  /** Runs between loading a document from storage and subscribing to its updates (tests). */
  afterLoad?: (doc: string) => Promise<void>
  /** Replaces the `--geoip` database for anomaly detection (tests, embedders with their own). */
  locate?: Locate
}

export interface App {
  http: FastifyInstance
  logger: Logger
  metrics: Metrics
  rooms: Rooms
  /** Identity (accounts, device sessions, drafts) unless authentication was replaced or disabled. */
  identity?: IdentitySetup
  sessions: SessionSockets
  /** Deployment analytics (with identity on). */
  analytics?: Analytics
  /** The LevelDB database with --store level (absent with --store postgres). */
  db?: Level<string, Uint8Array>
  /** Anomaly detection and security alerts; absent without identity. */
  anomaly?: Awaited<ReturnType<typeof setupAnomaly>>
  /** Scoped API keys of app backends (server-side document API); absent without identity. */
  apiKeys?: ApiKeys
  /** `http://host:port` once listening. */
  url: string
  listen(): Promise<string>
  /** Graceful shutdown: stop accepting, close sockets with 1001, flush, close the database. */
  close(): Promise<void>
}

/** Security events that end a device session (for the onSessionEnd hook). */
const SESSION_END_KINDS = new Set(['logout', 'session_revoked', 'session_expired', 'refresh_reuse'])

const insecureAuthenticate: AuthenticateHook = async () => ({ userId: 'anonymous', access: 'write' })

export interface Storage {
  docs: DocStore
  sessions: SessionStore
  /** Where the signing keys live when not in the data dir (PostgreSQL). */
  keys?: KeyStore
  db?: Level<string, Uint8Array>
  /** Flush the document store, then close the database. */
  close(): Promise<void>
}

/**
 * The stores `--store` names: LevelDB in the data dir, or PostgreSQL at `--database-url` (one pool).
 * The PostgreSQL driver is loaded only when it is used.
 */
export const openStorage = async (config: ServerConfig, logger: Logger, metrics: Metrics): Promise<Storage> => {
  if (config.store === 'postgres') {
    if (config.fsync) logger.warn('--fsync has no effect with --store postgres: durability is set in PostgreSQL (fsync, synchronous_commit)')
    const { openPostgresStores } = await import('./storage/postgres/index.js')
    const pg = await openPostgresStores(config.databaseUrl, { flushIntervalMs: config.flushIntervalMs, maxBatchOps: config.maxBatchOps, logger, metrics })
    return { docs: pg.docs, sessions: pg.sessions, keys: pg.keys, close: () => pg.close() }
  }
  const db = new Level<string, Uint8Array>(path.join(config.dataDir, 'db'), { valueEncoding: 'view' })
  await db.open()
  const docs = new LevelDocStore(db, {
    flushIntervalMs: config.flushIntervalMs, maxBatchOps: config.maxBatchOps, fsync: config.fsync, logger, metrics
  })
  return { docs, sessions: new LevelSessionStore(db), db, close: async () => { await docs.close(); await db.close() } }
}

/** Wires storage, sync core, HTTP routes and authentication from configuration. */
export const createApp = async (config: ServerConfig, opts: AppOptions = {}): Promise<App> => {
  const logger = opts.logger ?? createLogger(config.logLevel)
  await fs.mkdir(config.dataDir, { recursive: true })
  const sessions = new SessionSockets()
  const metrics = createMetrics()
  const storage = await openStorage(config, logger, metrics)
  const store = storage.docs
  const closeEnded = ({ sessionId, reason, wipe }: SessionEndedEvent) => {
    const closed = sessions.close(sessionId, CloseCode.sessionEnded, sessionEndedCloseReason(reason, wipe))
    if (closed) logger.info({ session: sessionId, reason, sockets: closed }, 'closed sockets of ended session')
  }
  // Identity is set up on the buses' shared state; the buses call back into it once it exists.
  let identity: IdentitySetup | undefined
  let rooms: Rooms | undefined
  // Session events, from this node or another, applied to this node's sockets and documents.
  const applySessionEvent: SessionEventHandler = async event => {
    switch (event.kind) {
      case 'session-ended': closeEnded(event); return
      case 'doc-access-removed': await rooms?.closeUserSockets(event.docName, event.userId, CloseCode.accessChanged, 'document access changed'); return
      case 'doc-deleted': await rooms?.purge(event.docName, CloseCode.accessChanged, 'document deleted'); return
      case 'security-alert': if (rooms) await sendAlertHere(rooms, event.userId, event.message, event.exceptSession)
    }
  }
  const buses = await openBuses({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    logger,
    sockets: sessions,
    onSessionEvent: applySessionEvent,
    onKeysChanged: () => {
      identity?.reloadKeys().then(
        r => logger.info(r, 'signing keys reloaded (rotated by another process)'),
        (err: Error) => logger.error({ err: err.message }, 'signing key reload failed'))
    },
    recheckSessions: async () => {
      const closed = await identity?.recheckSessions(closeEnded)
      const draftSockets = identity && rooms ? await recheckDraftAccess(rooms, identity.drafts) : 0
      logger.info({ closed, draftSockets }, 're-checked live sockets against the store')
    }
  }).catch(async (err: unknown) => { await storage.close(); throw err })
  // Identity is the default; a hook passed in (tests, embedders) or --insecure-no-auth replaces it.
  identity = !opts.authenticate && !config.insecureNoAuth
    ? await setupIdentity(config, storage.sessions, logger, metrics, sessions, buses.sessionEvents, () => rooms!, buses.state, storage.keys)
    : undefined
  // Analytics count device sessions (identity's observer) and their sockets (the sync context's activity).
  const analytics = identity && new Analytics(storage.sessions, metrics, logger, { handoffWindowMs: config.handoffWindowMs, retentionDays: config.analyticsRetentionDays, flushMs: config.analyticsFlushMs })
  if (identity && analytics) identity.identity.sessionObserver = analytics
  let authenticate = opts.authenticate ?? identity?.hooks.authenticate
  if (!authenticate) {
    logger.warn('INSECURE: --insecure-no-auth is set; every client gets write access to every document. Never use this in production.')
    authenticate = insecureAuthenticate
  }

  const webhooks = config.webhookUrl ? new WebhookSender({ url: config.webhookUrl, secret: config.webhookSecret, logger, retryBaseMs: config.webhookRetryMs }) : undefined
  const hookRunner = new HookRunner(opts.hooks ?? {}, webhooks ? [webhooks.send] : [], logger, config.hookDebounceMs)
  // The edit path pays for change notifications only when something listens.
  const anomaly = identity ? await setupAnomaly(config, storage.sessions, identity.identity, buses.sessionEvents, logger, opts.locate) : undefined
  identity?.identity.securityLog.onEvent(e => {
    hookRunner.securityEvent(e)
    if (e.kind === 'login_ok' && e.userId && e.sessionId) hookRunner.sessionStarted({ userId: e.userId, sessionId: e.sessionId, ip: e.ip, at: e.at })
    if (SESSION_END_KINDS.has(e.kind) && e.sessionId) hookRunner.sessionEnded({ userId: e.userId, sessionId: e.sessionId, reason: e.kind === 'session_revoked' ? e.reason ?? 'revoked' : e.kind, at: e.at })
  })
  const updates = hookRunner.wantsDocumentChanges ? observedBus(buses.updates, doc => hookRunner.documentChanged(doc)) : buses.updates
  const ctx: SyncContext = { config, store, logger, metrics, reauthenticate: opts.reauthenticate ?? identity?.hooks.reauthenticate, expiry: new ExpiryClock(), liveDocs: new LiveDocBudget(config.liveDocBudgetBytes, bytes => metrics.liveDocBytes.set(bytes)), updates, afterLoad: opts.afterLoad, activity: analytics?.sockets, editActivity: identity?.activity.note }
  rooms = new Rooms(ctx, opts.merger)
  // One list of browser app origins allowed to use this server: the HTTP API (CORS) and sync sockets.
  const corsOrigins = config.corsOrigins.split(',').map(o => o.trim()).filter(Boolean)
  const trust = proxyTrust(config.trustedProxies, config.publicUrl)
  const liveSession = identity?.identity.liveSession.bind(identity.identity)
  const upgrade = createUpgradeHandler(ctx, rooms, sessions, {
    authenticate,
    sessionLive: liveSession && (async sessionId => await liveSession(sessionId) !== undefined),
    proxyTrust: trust,
    allowedOrigins: corsOrigins,
    publicUrl: config.publicUrl
  })

  // Request lines are logged by us, without query strings (a token may ride in one). Bodies are
  // validated strictly: unknown properties and wrong types are refused, never coerced or dropped.
  const http = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }) as never,
    bodyLimit: 64 * 1024,
    trustProxy: trust ?? false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } }
  })
  http.setErrorHandler(apiErrorHandler)
  if (corsOrigins.length > 0) {
    // Bearer tokens and DPoP proofs travel in headers: no cookies, so no credentials mode.
    await http.register(cors, { origin: corsOrigins, methods: ['GET', 'POST', 'PATCH', 'DELETE'], allowedHeaders: ['authorization', 'content-type', 'dpop'], maxAge: 600 })
  }
  const admin = identity ? new Admin(storage.sessions, identity.identity, sid => buses.state.online.count(sid)) : undefined
  if (identity && admin) {
    identityRoutes(http, identity, config.publicUrl)
    adminRoutes(http, admin, analytics, config.publicUrl)
  }
  const apiKeys = identity ? new ApiKeys(storage.sessions) : undefined
  if (identity && anomaly) alertRoutes(http, identity.identity, anomaly.alerts, config.publicUrl)
  if (apiKeys) docApiRoutes(http, apiKeys, new SessionDocs(storage.sessions, () => rooms), admin, config.publicUrl)
  http.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })
  let closing = false
  // A response finished while shutting down closes its connection: keep-alive would hold close() up.
  http.addHook('onSend', async (_req, reply, payload) => { if (closing) reply.header('connection', 'close'); return payload })
  healthRoutes(http, metrics, { ready: () => !closing, documents: () => rooms.size })
  demoRoutes(http)
  http.server.on('upgrade', upgrade.handleUpgrade)

  const app: App = {
    http, logger, metrics, rooms, identity, analytics, sessions, apiKeys, anomaly, db: storage.db, url: '',
    async listen () {
      await http.listen({ host: config.host, port: config.port })
      const addr = http.server.address() as AddressInfo
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
      app.url = `http://${host}:${addr.port}`
      analytics?.start()
      logger.info({ url: app.url, dataDir: config.dataDir, store: config.store }, 'listening')
      return app.url
    },
    async close () {
      if (closing) return
      closing = true
      upgrade.stopAccepting()
      identity?.stop()
      upgrade.closeAll()
      ctx.expiry.stop()
      // Stop the HTTP listener without waiting for idle keep-alive sockets.
      http.server.closeIdleConnections?.()
      const httpClosed = http.close()
      await rooms.unloadAll()
      hookRunner.flush()
      webhooks?.close()
      await buses.close()
      await storage.close()
      upgrade.terminateAll()
      await httpClosed
      logger.info('shut down cleanly')
    }
  }
  return app
}
