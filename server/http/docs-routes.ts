import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { DocListResponse } from '../../shared/api.js'
import type { Drafts } from '../access/drafts.js'
import type { Identity } from '../identity/identity.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/** Shared drafts: `/docs*`. The caller's role decides what each route allows (see Drafts). */
export const docsRoutes = (http: FastifyInstance, identity: Identity, drafts: Drafts, publicUrl: string) => {
  const ctx = (req: FastifyRequest) => requestContext(req, publicUrl)
  const user = async (req: FastifyRequest) => (await identity.authenticate(req.headers.authorization, ctx(req))).user.id
  type Id = { Params: { id: string } }

  http.post<{ Body: { title: string } }>('/docs', { schema: { body: Schemas.title } }, async (req, reply) =>
    reply.code(201).send(await drafts.create(await user(req), req.body.title)))

  http.get('/docs', async (req) => ({ docs: await drafts.list(await user(req)) } satisfies DocListResponse))

  http.get<Id>('/docs/:id', { schema: { params: Schemas.idParam } }, async (req) => drafts.get(await user(req), req.params.id))

  http.patch<Id & { Body: { title: string } }>('/docs/:id', { schema: { params: Schemas.idParam, body: Schemas.title } }, async (req) =>
    drafts.rename(await user(req), req.params.id, req.body.title))

  http.delete<Id>('/docs/:id', { schema: { params: Schemas.idParam } }, async (req, reply) => {
    await drafts.remove(await user(req), req.params.id)
    return reply.code(204).send()
  })

  http.post<Id & { Body: { email: string, role: 'editor' | 'viewer' } }>('/docs/:id/members', { schema: { params: Schemas.idParam, body: Schemas.member } }, async (req) =>
    drafts.addMember(await user(req), req.params.id, req.body.email, req.body.role, ctx(req).ip))

  http.delete<{ Params: { id: string, userId: string } }>('/docs/:id/members/:userId', { schema: { params: Schemas.memberParams } }, async (req, reply) => {
    await drafts.removeMember(await user(req), req.params.id, req.params.userId)
    return reply.code(204).send()
  })
}
