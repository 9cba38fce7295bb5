import type { FastifyInstance } from 'fastify'
import type { IdentitySetup } from '../identity/setup.js'
import { accountRoutes } from './account-routes.js'
import { authRoutes } from './auth-routes.js'
import { docsRoutes } from './docs-routes.js'
import { pairingRoutes } from './pairing-routes.js'
import { passkeyRoutes } from './passkey-routes.js'

/**
 * The identity API: accounts and device sessions (auth-routes.ts), pairing by code
 * (pairing-routes.ts), passkeys (passkey-routes.ts), shared drafts (docs-routes.ts) and the account's
 * lifecycle: deadlines, activity, wipe, export, deletion (account-routes.ts).
 */
export const identityRoutes = (http: FastifyInstance, id: IdentitySetup, publicUrl: string) => {
  authRoutes(http, id.identity, id.jwks, publicUrl)
  pairingRoutes(http, id.identity, id.pairing, publicUrl)
  passkeyRoutes(http, id.identity, id.passkeys, publicUrl)
  docsRoutes(http, id.identity, id.drafts, publicUrl)
  accountRoutes(http, id.identity, id.activity, publicUrl)
}
