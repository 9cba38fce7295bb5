import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ErrorCode, type DeleteAccountRequest, type RevokeSessionRequest, type SessionDeadlinesResponse } from '../../shared/api.js'
import { Failure } from '../errors.js'
import { lastActive } from '../identity/expiry-policy.js'
import { accountExport } from '../identity/export.js'
import { RateLimited } from '../identity/rate-limits.js'
import type { IdentitySetup } from '../identity/setup.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/**
 * The account's lifecycle: the calling session's deadlines and reported activity (`/me/session`,
 * `/me/activity`), revocation with a wipe request (`/sessions/:id/revoke`), the account's export
 * (`GET /me/export`, streamed) and its deletion (`DELETE /me`).
 */
export const accountRoutes = (http: FastifyInstance, id: IdentitySetup, publicUrl: string) => {
  const { identity, activity } = id
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

  /** Streamed as it is produced (chunked): one document in memory at a time. */
  http.get('/me/export', async (req, reply) => {
    const a = await authed(req)
    try { await id.exports.budget.spend(`user:${a.user.id}`) } catch (err) {
      if (err instanceof RateLimited) throw new Failure(ErrorCode.rateLimited, 'too many exports: try again later', err.retryAfterS)
      throw err
    }
    void identity.securityLog.record('account_exported', { userId: a.user.id, sessionId: a.session.id, ip: ctx(req).ip })
    return reply.headers(noStore)
      .type('application/json; charset=utf-8')
      .header('content-disposition', 'attachment; filename="account-export.json"')
      .send(Readable.from(accountExport(identity.store, id.exports.readDoc, a.user)))
  })

  http.delete<{ Body: DeleteAccountRequest | undefined }>('/me', { schema: { body: Schemas.deleteAccount } }, async (req, reply) => {
    await id.deletion.delete(await authed(req), req.body ?? {}, ctx(req))
    return reply.code(204).send()
  })
}
