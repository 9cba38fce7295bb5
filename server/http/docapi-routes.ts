import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { SessionDocOp, SessionDocPatchResponse } from '../../shared/api.js'
import { ErrorCode } from '../../shared/api.js'
import { Failure } from '../errors.js'
import type { ApiKeys, ApiKeyScope } from '../docapi/api-keys.js'
import type { SessionDocs } from '../docapi/session-docs.js'
import type { Admin } from '../admin/admin.js'
import { ApiKeys as Keys } from '../docapi/api-keys.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/**
 * The server-side document API for app backends, `/api/users/:id/session-doc`, authorized by a
 * scoped API key (`Authorization: Bearer ssk_…`) or an admin's DPoP-bound access token (audited):
 * GET (`docs:read`) answers the document as JSON, PATCH (`docs:write`) applies patch operations or a
 * Yjs update through the document's room.
 */
export const docApiRoutes = (http: FastifyInstance, keys: ApiKeys, docs: SessionDocs, admin: Admin | undefined, publicUrl: string) => {
  const authorize = async (req: FastifyRequest<{ Params: { id: string } }>, scope: ApiKeyScope): Promise<void> => {
    if (!admin || Keys.carriesKey(req.headers.authorization)) { await keys.verify(req.headers.authorization, scope); return }
    const ctx = requestContext(req, publicUrl)
    const a = await admin.authorize(req.headers.authorization, ctx)
    await admin.audit(a, scope === 'docs:read' ? 'read_session_doc' : 'change_session_doc', `user:${req.params.id}`, ctx)
  }
  const noStore = { 'cache-control': 'no-store' }

  http.get<{ Params: { id: string } }>('/api/users/:id/session-doc', { schema: { params: Schemas.idParam } }, async (req, reply) => {
    await authorize(req, 'docs:read')
    return reply.headers(noStore).send(await docs.read(req.params.id))
  })

  http.patch<{ Params: { id: string }, Body: { ops?: SessionDocOp[], update?: string } }>('/api/users/:id/session-doc',
    { schema: { params: Schemas.idParam, body: Schemas.sessionDocPatch } }, async (req, reply) => {
      await authorize(req, 'docs:write')
      const { ops, update } = req.body
      if ((ops === undefined) === (update === undefined)) throw new Failure(ErrorCode.invalidRequest, 'send either ops or update')
      if (ops?.some(op => op.op === 'set' && !('value' in op))) throw new Failure(ErrorCode.invalidRequest, 'a set operation needs a value')
      const appliedBytes = await docs.change(req.params.id, ops ? { ops } : { update: new Uint8Array(Buffer.from(update!, 'base64')) })
      return reply.headers(noStore).send({ appliedBytes } satisfies SessionDocPatchResponse)
    })
}
