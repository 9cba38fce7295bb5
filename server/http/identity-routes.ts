import type { FastifyInstance } from 'fastify'
import type { IdentitySetup } from '../identity/setup.js'
import { authRoutes } from './auth-routes.js'
import { docsRoutes } from './docs-routes.js'

/** The identity API: accounts and device sessions (auth-routes.ts) and shared drafts (docs-routes.ts). */
export const identityRoutes = (http: FastifyInstance, id: IdentitySetup, publicUrl: string) => {
  authRoutes(http, id.identity, id.jwks, publicUrl)
  docsRoutes(http, id.identity, id.drafts, publicUrl)
}
