import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { SecurityAlertListResponse } from '../../shared/api.js'
import type { SecurityAlerts } from '../anomaly/alerts.js'
import type { Identity } from '../identity/identity.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/** `/auth/alerts*`: the signed-in user's open security alerts, "it was me" and "sign it out". */
export const alertRoutes = (http: FastifyInstance, identity: Identity, alerts: SecurityAlerts, publicUrl: string) => {
  const ctx = (req: FastifyRequest) => requestContext(req, publicUrl)
  const authed = (req: FastifyRequest) => identity.authenticate(req.headers.authorization, ctx(req))

  http.get('/auth/alerts', async (req, reply) => {
    const a = await authed(req)
    return reply.header('cache-control', 'no-store').send({ alerts: await alerts.open(a.user.id) } satisfies SecurityAlertListResponse)
  })

  http.post<{ Params: { id: string } }>('/auth/alerts/:id/confirm', { schema: { params: Schemas.alertParam } }, async (req, reply) => {
    await alerts.confirm(await authed(req), req.params.id, ctx(req))
    return reply.code(204).send()
  })

  http.post<{ Params: { id: string } }>('/auth/alerts/:id/sign-out', { schema: { params: Schemas.alertParam } }, async (req, reply) => {
    await alerts.signOut(await authed(req), req.params.id, ctx(req))
    return reply.code(204).send()
  })
}
