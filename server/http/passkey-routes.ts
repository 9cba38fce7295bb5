import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { DeviceInfo, PasskeyInfo, PasskeyListResponse, PasskeyLoginOptionsResponse, StepUpResponse, TokenResponse, WebAuthnJson } from '../../shared/api.js'
import type { Identity } from '../identity/identity.js'
import type { Passkeys } from '../identity/passkeys.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/**
 * Passkeys, `/auth/passkeys*`: list, rename and remove; register from a signed-in device (options,
 * then the attestation with a DPoP proof by the session's key); sign in (options, then the assertion
 * with the new device's DPoP proof); step up (options, then the assertion).
 */
export const passkeyRoutes = (http: FastifyInstance, identity: Identity, passkeys: Passkeys, publicUrl: string) => {
  const ctx = (req: FastifyRequest) => requestContext(req, publicUrl)
  const authed = (req: FastifyRequest) => identity.authenticate(req.headers.authorization, ctx(req))
  const noStore = { 'cache-control': 'no-store' }
  type Id = { Params: { id: string } }

  http.get('/auth/passkeys', async (req) => ({ passkeys: await passkeys.list(await authed(req)) } satisfies PasskeyListResponse))

  http.post('/auth/passkeys/register/options', async (req, reply) => {
    const options: WebAuthnJson = await passkeys.registrationOptions(await authed(req), ctx(req))
    return reply.headers(noStore).send(options)
  })

  http.post<{ Body: { response: WebAuthnJson, name?: string } }>('/auth/passkeys/register', { schema: { body: Schemas.passkeyRegister } }, async (req, reply) => {
    const c = ctx(req)
    const res: PasskeyInfo = await passkeys.register(await identity.authenticateBound(req.headers.authorization, c), req.body.response, req.body.name, c)
    return reply.code(201).send(res)
  })

  http.post('/auth/passkeys/login/options', async (req, reply) => {
    const res: PasskeyLoginOptionsResponse = await passkeys.loginOptions(ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post<{ Body: { attemptId: string, response: WebAuthnJson, device: DeviceInfo } }>('/auth/passkeys/login', { schema: { body: Schemas.passkeyLogin } }, async (req, reply) => {
    const res: TokenResponse = await passkeys.login(req.body.attemptId, req.body.response, req.body.device, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post('/auth/passkeys/step-up/options', async (req, reply) => {
    const options: WebAuthnJson = await passkeys.stepUpOptions(await authed(req), ctx(req))
    return reply.headers(noStore).send(options)
  })

  http.post<{ Body: { response: WebAuthnJson } }>('/auth/passkeys/step-up', { schema: { body: Schemas.passkeyStepUp } }, async (req, reply) => {
    const res: StepUpResponse = await passkeys.stepUp(await authed(req), req.body.response, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.patch<Id & { Body: { name: string } }>('/auth/passkeys/:id', { schema: { params: Schemas.passkeyParam, body: Schemas.passkeyRename } }, async (req) =>
    passkeys.rename(await authed(req), req.params.id, req.body.name) satisfies Promise<PasskeyInfo>)

  http.delete<Id>('/auth/passkeys/:id', { schema: { params: Schemas.passkeyParam } }, async (req, reply) => {
    await passkeys.remove(await authed(req), req.params.id, ctx(req))
    return reply.code(204).send()
  })
}
