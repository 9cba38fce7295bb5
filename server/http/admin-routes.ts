import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AdminSessionListResponse, AdminUserInfo, AdminUserListResponse, AnalyticsResponse, SecurityEventListResponse } from '../../shared/api.js'
import { ErrorCode } from '../../shared/api.js'
import type { Admin } from '../admin/admin.js'
import type { Analytics } from '../analytics/analytics.js'
import { dayOf, isoDay, parseIsoDay } from '../analytics/days.js'
import { Failure } from '../errors.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/** Longest analytics range one request may ask for. */
const MAX_DAYS = 366

const limitOf = (raw: string | undefined, def: number, max: number): number => {
  if (raw === undefined) return def
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Failure(ErrorCode.invalidRequest, `limit must be an integer from 1 to ${max}`)
  return n
}

const timeParam = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined
  const n = /^\d{1,15}$/.test(raw) ? Number(raw) : Date.parse(raw)
  if (Number.isNaN(n)) throw new Failure(ErrorCode.invalidRequest, `${name} must be a time in ms or ISO 8601`)
  return n
}

const dayParam = (name: string, raw: string | undefined, def: number): number => {
  if (raw === undefined) return def
  const d = parseIsoDay(raw)
  if (d === undefined) throw new Failure(ErrorCode.invalidRequest, `${name} must be a date YYYY-MM-DD`)
  return d
}

/**
 * `/admin/*`: the admin API (server/admin/admin.ts). Every route needs an admin's access token and a
 * DPoP proof of the request by its session's key; ending sessions and disabling accounts also need a
 * recent step-up when the admin has MFA on. Answers are never cached.
 */
export const adminRoutes = (http: FastifyInstance, admin: Admin, analytics: Analytics | undefined, publicUrl: string) => {
  const ctx = (req: FastifyRequest) => requestContext(req, publicUrl)
  const authorized = (req: FastifyRequest) => admin.authorize(req.headers.authorization, ctx(req))

  http.register(async scope => {
    scope.addHook('onSend', async (_req, reply) => { reply.header('cache-control', 'no-store') })

    scope.get<{ Querystring: { prefix?: string, after?: string, limit?: string } }>('/admin/users', { schema: { querystring: Schemas.adminUserQuery } }, async req => {
      const a = await authorized(req)
      return await admin.users(a, req.query.prefix ?? '', req.query.after, limitOf(req.query.limit, 50, 200), ctx(req)) satisfies AdminUserListResponse
    })

    scope.get<{ Params: { id: string } }>('/admin/users/:id', { schema: { params: Schemas.idParam } }, async req => {
      const a = await authorized(req)
      return await admin.user(a, req.params.id, ctx(req)) satisfies AdminUserInfo
    })

    scope.get<{ Params: { id: string } }>('/admin/users/:id/sessions', { schema: { params: Schemas.idParam } }, async req => {
      const a = await authorized(req)
      return { sessions: await admin.sessions(a, req.params.id, ctx(req)) } satisfies AdminSessionListResponse
    })

    scope.post<{ Params: { id: string } }>('/admin/users/:id/logout', { schema: { params: Schemas.idParam } }, async req => {
      const a = await authorized(req)
      return { ended: await admin.forceLogout(a, req.params.id, ctx(req)) }
    })

    scope.post<{ Params: { id: string } }>('/admin/users/:id/disable', { schema: { params: Schemas.idParam } }, async req => {
      const a = await authorized(req)
      return await admin.setDisabled(a, req.params.id, true, ctx(req)) satisfies AdminUserInfo
    })

    scope.post<{ Params: { id: string } }>('/admin/users/:id/enable', { schema: { params: Schemas.idParam } }, async req => {
      const a = await authorized(req)
      return await admin.setDisabled(a, req.params.id, false, ctx(req)) satisfies AdminUserInfo
    })

    scope.delete<{ Params: { id: string } }>('/admin/sessions/:id', { schema: { params: Schemas.idParam } }, async (req, reply) => {
      const a = await authorized(req)
      await admin.endSession(a, req.params.id, ctx(req))
      return reply.code(204).send()
    })

    scope.get<{ Querystring: { userId?: string, kind?: string, since?: string, until?: string, before?: string, limit?: string } }>('/admin/security-events', { schema: { querystring: Schemas.securityEventQuery } }, async req => {
      const a = await authorized(req)
      const q = req.query
      const limit = limitOf(q.limit, 50, 500)
      const events = await admin.events(a, {
        userId: q.userId, kinds: q.kind?.split(',').filter(Boolean), since: timeParam('since', q.since), until: timeParam('until', q.until), before: q.before, limit
      }, ctx(req))
      return (events.length === limit ? { events, next: events.at(-1)!.id } : { events }) satisfies SecurityEventListResponse
    })

    scope.get<{ Querystring: { from?: string, to?: string, bucket?: string } }>('/admin/analytics', { schema: { querystring: Schemas.analyticsQuery } }, async req => {
      const a = await authorized(req)
      if (!analytics) throw new Failure(ErrorCode.notFound, 'analytics are off')
      const today = dayOf(Date.now())
      const to = dayParam('to', req.query.to, today)
      const from = dayParam('from', req.query.from, to - 29)
      if (from > to) throw new Failure(ErrorCode.invalidRequest, 'from must not be after to')
      if (to - from + 1 > MAX_DAYS) throw new Failure(ErrorCode.invalidRequest, `at most ${MAX_DAYS} days per request`)
      await admin.audit(a, 'analytics', `${isoDay(from)}..${isoDay(to)}`, ctx(req))
      const days = await analytics.series(from, to + 1)
      return { bucket: 'day', from: isoDay(from), to: isoDay(to), handoffWindowMs: analytics.handoffWindowMs, days } satisfies AnalyticsResponse
    })
  })
}
