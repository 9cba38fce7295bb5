import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client'

const IN_TYPES = ['sync', 'awareness', 'auth', 'query_awareness']

/** One registry per server instance, so that several servers in one process (tests) never collide. */
export const createMetrics = () => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // Hot-path counters are plain numbers, read by prom-client only at scrape time: a labelled
  // prom-client inc() per message and per recipient would cost more than the relay itself.
  const hot = { messagesIn: [0, 0, 0, 0] as number[], messagesInOther: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, denied: 0 }
  // Read at scrape time from whoever tracks them (server/analytics/socket-activity.ts).
  const live = { sessionsOnline: () => 0, socketsOnline: () => 0 }
  const m = {
    hot,
    live,
    registry,
    connections: new Gauge({ name: 'sync_connections', help: 'Open WebSocket connections', registers: [registry] }),
    documents: new Gauge({ name: 'sync_documents_loaded', help: 'Documents held in memory', registers: [registry] }),
    liveDocBytes: new Gauge({ name: 'sync_live_doc_bytes', help: 'Encoded bytes of the big documents kept as live Y.Docs (--live-doc-budget-bytes)', registers: [registry] }),
    messagesIn: new Counter({
      name: 'sync_messages_in_total', help: 'Messages received, by type (sync, awareness, auth, query_awareness, other, denied = read-only updates dropped)', labelNames: ['type'], registers: [registry],
      collect () {
        this.reset()
        IN_TYPES.forEach((t, i) => this.inc({ type: t }, hot.messagesIn[i]!))
        this.inc({ type: 'other' }, hot.messagesInOther)
        this.inc({ type: 'denied' }, hot.denied)
      }
    }),
    messagesOut: new Counter({ name: 'sync_messages_out_total', help: 'Messages sent (one per recipient)', registers: [registry], collect () { this.reset(); this.inc(hot.messagesOut) } }),
    bytesIn: new Counter({ name: 'sync_bytes_in_total', help: 'Bytes received in messages', registers: [registry], collect () { this.reset(); this.inc(hot.bytesIn) } }),
    bytesOut: new Counter({ name: 'sync_bytes_out_total', help: 'Bytes sent in messages', registers: [registry], collect () { this.reset(); this.inc(hot.bytesOut) } }),
    deadConnections: new Counter({ name: 'sync_dead_connections_total', help: 'Connections dropped because they did not answer a ping within one interval (half-open TCP)', registers: [registry] }),
    rejected: new Counter({ name: 'sync_connections_closed_total', help: 'Connections closed by the server, by close code', labelNames: ['code'], registers: [registry] }),
    persistLatency: new Histogram({
      name: 'sync_persist_batch_seconds', help: 'Time to write one storage batch', registers: [registry],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
    }),
    persistBatchSize: new Histogram({
      name: 'sync_persist_batch_ops', help: 'Operations per storage batch', registers: [registry],
      buckets: [1, 5, 10, 50, 100, 500, 1000, 5000]
    }),
    // Device-session analytics (server/analytics/); the gauges count this node's sockets.
    sessionsActive: new Gauge({ name: 'device_sessions_active', help: 'Device sessions with at least one socket open on this node', registers: [registry], collect () { this.set(live.sessionsOnline()) } }),
    socketsOnline: new Gauge({ name: 'device_sockets_online', help: 'Sockets of device sessions open on this node', registers: [registry], collect () { this.set(live.socketsOnline()) } }),
    sessionsStarted: new Counter({ name: 'device_sessions_started_total', help: 'Device sessions started (sign-in, passkey, pairing), by platform', labelNames: ['platform'], registers: [registry] }),
    sessionsEnded: new Counter({ name: 'device_sessions_ended_total', help: 'Device sessions ended, by reason (logout, revoked, expired, refresh_reuse, password_changed, admin, disabled)', labelNames: ['reason'], registers: [registry] }),
    handoffs: new Counter({ name: 'device_handoffs_total', help: 'Users continuing on another device within --handoff-window-ms of activity on one (sockets on this node)', registers: [registry] }),
    securityEvents: new Counter({ name: 'auth_security_events_total', help: 'Security events (logins, failures, refresh reuse, revocations, MFA changes, rate limits), by kind', labelNames: ['kind'], registers: [registry] }),
    compactions: new Counter({ name: 'sync_compactions_total', help: 'Document logs merged into a snapshot', registers: [registry] }),
    compactionLatency: new Histogram({
      name: 'sync_compaction_seconds', help: 'Time from the start of a compaction to its snapshot handed to storage (the merge runs in a worker thread)', registers: [registry],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5]
    }),
    rebuilds: new Counter({ name: 'sync_document_rebuilds_total', help: 'Documents rebuilt as a Y.Doc on the event loop to answer a sync (compactions merge in the merge worker)', registers: [registry] }),
    docLoadLatency: new Histogram({
      name: 'sync_document_load_seconds', help: 'Time to load a document from storage', registers: [registry],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5]
    })
  }
  return m
}
export type Metrics = ReturnType<typeof createMetrics>
