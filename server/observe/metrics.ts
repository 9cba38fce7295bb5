import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client'

/** One registry per server instance, so that several servers in one process (tests) never collide. */
export const createMetrics = () => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const m = {
    registry,
    connections: new Gauge({ name: 'sync_connections', help: 'Open WebSocket connections', registers: [registry] }),
    documents: new Gauge({ name: 'sync_documents_loaded', help: 'Documents held in memory', registers: [registry] }),
    messagesIn: new Counter({ name: 'sync_messages_in_total', help: 'Messages received', labelNames: ['type'], registers: [registry] }),
    messagesOut: new Counter({ name: 'sync_messages_out_total', help: 'Messages sent (one per recipient)', registers: [registry] }),
    bytesIn: new Counter({ name: 'sync_bytes_in_total', help: 'Bytes received in messages', registers: [registry] }),
    bytesOut: new Counter({ name: 'sync_bytes_out_total', help: 'Bytes sent in messages', registers: [registry] }),
    rejected: new Counter({ name: 'sync_connections_closed_total', help: 'Connections closed by the server, by close code', labelNames: ['code'], registers: [registry] }),
    persistLatency: new Histogram({
      name: 'sync_persist_batch_seconds', help: 'Time to write one storage batch', registers: [registry],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
    }),
    persistBatchSize: new Histogram({
      name: 'sync_persist_batch_ops', help: 'Operations per storage batch', registers: [registry],
      buckets: [1, 5, 10, 50, 100, 500, 1000, 5000]
    }),
    compactions: new Counter({ name: 'sync_compactions_total', help: 'Document logs merged into a snapshot', registers: [registry] }),
    docLoadLatency: new Histogram({
      name: 'sync_document_load_seconds', help: 'Time to load a document from storage', registers: [registry],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5]
    })
  }
  return m
}
export type Metrics = ReturnType<typeof createMetrics>
