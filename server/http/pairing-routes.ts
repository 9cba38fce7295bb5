import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { DeviceCodeResponse, DeviceInfo, PairingRequestInfo, TokenResponse } from '../../shared/api.js'
import type { Identity } from '../identity/identity.js'
import type { Pairing } from '../identity/pairing.js'
import { requestContext } from './request-context.js'
import { Schemas } from './schemas.js'

/**
 * Pairing a device by code (RFC 8628), `/auth/device/*`: `code` and `token` for the new device (each
 * with its DPoP proof), `lookup`, `approve` and `deny` for a signed-in device.
 */
export const pairingRoutes = (http: FastifyInstance, identity: Identity, pairing: Pairing, publicUrl: string) => {
  const ctx = (req: FastifyRequest) => requestContext(req, publicUrl)
  const authed = (req: FastifyRequest) => identity.authenticate(req.headers.authorization, ctx(req))
  const noStore = { 'cache-control': 'no-store' }
  type Code = { Body: { user_code: string } }

  http.post<{ Body: { device: DeviceInfo } }>('/auth/device/code', { schema: { body: Schemas.deviceCode } }, async (req, reply) => {
    const res: DeviceCodeResponse = await pairing.requestCode(req.body.device, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post<{ Body: { device_code: string } }>('/auth/device/token', { schema: { body: Schemas.deviceToken } }, async (req, reply) => {
    const res: TokenResponse = await pairing.redeem(req.body.device_code, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post<Code>('/auth/device/lookup', { schema: { body: Schemas.userCode } }, async (req, reply) => {
    const res: PairingRequestInfo = await pairing.lookup(await authed(req), req.body.user_code, ctx(req))
    return reply.headers(noStore).send(res)
  })

  http.post<Code>('/auth/device/approve', { schema: { body: Schemas.userCode } }, async (req, reply) => {
    const c = ctx(req)
    const res: PairingRequestInfo = await pairing.approve(await identity.authenticateBound(req.headers.authorization, c), req.body.user_code, c)
    return reply.headers(noStore).send(res)
  })

  http.post<Code>('/auth/device/deny', { schema: { body: Schemas.userCode } }, async (req, reply) => {
    const res: PairingRequestInfo = await pairing.deny(await authed(req), req.body.user_code, ctx(req))
    return reply.headers(noStore).send(res)
  })
}
