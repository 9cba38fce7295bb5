import { setAdmin } from '../../server/admin/grant.js'
import { LevelSessionStore } from '../../server/storage/level/session-store.js'
import type { App } from '../../server/app.js'
import type { Json, Res, TestDevice } from './identity.js'

/** Grants the admin role on a running LevelDB server's store (what `npm run admin -- grant` does offline). */
export const grantAdmin = (app: App, email: string) => setAdmin(new LevelSessionStore(app.db!), email, true)

/** An admin API call: the device's access token and a DPoP proof of this request by its key. */
export const adminCall = async <T = Json>(d: TestDevice, method: string, path: string, body?: unknown, token = d.tokens.accessToken): Promise<Res<T>> =>
  d.call<T>(method, path, body, { authorization: `Bearer ${token}`, dpop: await d.proof(method, path.split('?')[0]!) })
