import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../observe/metrics.js'

export interface HealthState { ready: () => boolean, documents: () => number }

/** Liveness/readiness and Prometheus metrics. */
export const healthRoutes = (app: FastifyInstance, metrics: Metrics, state: HealthState) => {
  app.get('/healthz', async (_req, reply) => {
    const ok = state.ready()
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'shutting_down', documents: state.documents(), uptimeSeconds: Math.round(process.uptime()) })
  })
  app.get('/metrics', async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
