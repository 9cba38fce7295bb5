import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { RevokeSessionRequest, SessionDeadlinesResponse } from '../../shared/api.js'
import type { Identity } from '../identity/identity.js'
import { lastActive } from '../identity/expiry-policy.js'
import type { ActivityTracker } from '../identity/activity.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/**
 * The account's lifecycle: the calling session's deadlines and reported activity (`/me/session`,
 * `/me/activity`), revocation with a wipe request (`/sessions/:id/revoke`).
 */
export const accountRoutes = (http: FastifyInstance, identity: Identity, activity: ActivityTracker, publicUrl: string) => {
  const ctx = (req: FastifyRequest) => requestContext(req, publicUrl)
  const authed = (req: FastifyRequest) => identity.authenticate(req.headers.authorization, ctx(req))
  const noStore = { 'cache-control': 'no-store' }

  /** Deadlines only: reading them is not activity. */
  http.get('/me/session', async (req, reply) => {
    const { session } = await authed(req)
    return reply.headers(noStore).send(identity.deadlines(session) satisfies SessionDeadlinesResponse)
  })

  /** The user is active on this device: moves the idle deadline (written at most once per throttle window). */
  http.post('/me/activity', async (req, reply) => {
    const { session } = await authed(req)
    const now = Date.now()
    const current = now - lastActive(session) < activity.everyMs ? session : await identity.recordActivity(session.id, now) ?? session
    return reply.headers(noStore).send(identity.deadlines(current) satisfies SessionDeadlinesResponse)
  })

  http.post<{ Params: { id: string }, Body: RevokeSessionRequest | undefined }>('/sessions/:id/revoke',
    { schema: { params: Schemas.idParam, body: Schemas.revoke } }, async (req, reply) => {
      await identity.revokeSession(await authed(req), req.params.id, ctx(req), req.body?.wipe === true)
      return reply.code(204).send()
    })
}
