import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { DeviceInfo, LoginResponse, MeResponse, MfaConfirmResponse, MfaEnrollResponse, RegisterResponse, SessionListResponse, StepUpResponse, TokenResponse } from '../../shared/api.js'
import type { Identity } from '../identity/identity.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/** `/auth/*`, `/sessions*` and `/.well-known/jwks.json`. Bodies are schema-checked before handlers run. */
export const authRoutes = (http: FastifyInstance, identity: Identity, jwks: () => object, publicUrl: string) => {
  const ctx = (req: FastifyRequest) => requestContext(req, publicUrl)
  const authed = (req: FastifyRequest) => identity.authenticate(req.headers.authorization, ctx(req))
  const noStore = { 'cache-control': 'no-store' }

  http.get('/.well-known/jwks.json', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(jwks()))

  http.post<{ Body: { email: string, password: string } }>('/auth/register', { schema: { body: Schemas.register } }, async (req, reply) => {
    const userId = await identity.register(req.body.email, req.body.password, ctx(req))
    return reply.code(201).send({ userId } satisfies RegisterResponse)
  })

  http.post<{ Body: { email: string, password: string, device: DeviceInfo } }>('/auth/login', { schema: { body: Schemas.login } }, async (req, reply) => {
    const res: LoginResponse = await identity.login(req.body.email, req.body.password, req.body.device, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post<{ Body: { mfaToken: string, code: string } }>('/auth/mfa/verify', { schema: { body: Schemas.mfaVerify } }, async (req, reply) => {
    const res: TokenResponse = await identity.verifyMfa(req.body.mfaToken, req.body.code, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post<{ Body: { refreshToken: string } }>('/auth/refresh', { schema: { body: Schemas.refresh } }, async (req, reply) => {
    const res: TokenResponse = await identity.refresh(req.body.refreshToken, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post('/auth/logout', async (req, reply) => {
    await identity.logout(await authed(req), ctx(req))
    return reply.code(204).send()
  })

  http.post<{ Body: { current: string, next: string } }>('/auth/password', { schema: { body: Schemas.password } }, async (req, reply) => {
    await identity.changePassword(await authed(req), req.body.current, req.body.next, ctx(req))
    return reply.code(204).send()
  })

  http.post('/auth/mfa/enroll', async (req, reply) => {
    const res: MfaEnrollResponse = await identity.mfaEnroll(await authed(req))
    return reply.headers(noStore).send(res)
  })

  http.post<{ Body: { code: string } }>('/auth/mfa/confirm', { schema: { body: Schemas.code } }, async (req, reply) => {
    const recoveryCodes = await identity.mfaConfirm(await authed(req), req.body.code, ctx(req))
    return reply.headers(noStore).send({ recoveryCodes } satisfies MfaConfirmResponse)
  })

  http.post('/auth/mfa/disable', async (req, reply) => {
    await identity.mfaDisable(await authed(req), ctx(req))
    return reply.code(204).send()
  })

  http.post<{ Body: { code: string } }>('/auth/step-up', { schema: { body: Schemas.code } }, async (req, reply) => {
    const res: StepUpResponse = await identity.stepUp(await authed(req), req.body.code, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.get('/me', async (req) => {
    const { user, session } = await authed(req)
    return { userId: user.id, email: user.email, mfaEnabled: !!user.mfaSecret, createdAt: user.createdAt, sessionId: session.id, ...(user.admin ? { admin: true as const } : {}) } satisfies MeResponse
  })

  http.get('/sessions', async (req) => ({ sessions: await identity.listSessions(await authed(req)) } satisfies SessionListResponse))

  http.delete<{ Params: { id: string } }>('/sessions/:id', { schema: { params: Schemas.idParam } }, async (req, reply) => {
    await identity.revokeSession(await authed(req), req.params.id, ctx(req))
    return reply.code(204).send()
  })

  http.post('/sessions/revoke-others', async (req) => {
    const revoked = await identity.revokeOthers(await authed(req), ctx(req))
    return { revoked }
  })
}
