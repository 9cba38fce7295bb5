import type { IncomingMessage } from 'node:http'
import { ErrorCode } from '../../shared/api.js'
import { TOKEN_QUERY_PARAM, TOKEN_SUBPROTOCOL_PREFIX } from '../../shared/protocol.js'
import { Failure } from '../errors.js'
import { AuthRejection, type AuthenticateHook, type Principal, type ReauthenticateHook } from '../transport/auth-hook.js'
import { upgradeClientIp, type ProxyTrust } from '../transport/client-ip.js'
import type { Drafts } from '../access/drafts.js'
import type { Authed, Identity } from './identity.js'

/** The access token of an upgrade request: `?token=` (stock y-websocket `params`) or a subprotocol entry. */
export const tokenFromUpgrade = (req: IncomingMessage): string | undefined => {
  const q = new URL(req.url ?? '/', 'http://localhost').searchParams.get(TOKEN_QUERY_PARAM)
  if (q) return q
  const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map(p => p.trim())
  return protocols.find(p => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX))?.slice(TOKEN_SUBPROTOCOL_PREFIX.length) || undefined
}

/**
 * Document access rules: `session:<userId>` belongs to that user's devices only; `draft:<id>` to its
 * owner and editors (write) and viewers (read). Every other name is refused when identity is on.
 */
const accessFor = async (drafts: Drafts, docName: string, userId: string): Promise<'read' | 'write'> => {
  const [kind, id] = [docName.slice(0, docName.indexOf(':')), docName.slice(docName.indexOf(':') + 1)]
  if (kind === 'session' && id === userId) return 'write'
  if (kind === 'draft') {
    const access = await drafts.accessTo(id, userId)
    if (access) return access
  }
  throw new AuthRejection(403, ErrorCode.forbidden, 'no access to this document')
}

// Every failure of a token check is a 401 code (invalid_token, token_expired, session_ended).
const verify = async (identity: Identity, token: string): Promise<Authed> => {
  try {
    return await identity.verifyAccessToken(token)
  } catch (err) {
    if (err instanceof Failure) throw new AuthRejection(401, err.code, err.message)
    throw err
  }
}

const principalOf = (a: Authed, access: 'read' | 'write'): Principal => ({
  userId: a.user.id, sessionId: a.session.id, access, expiresAt: a.claims.exp * 1000
})

/** The sync server's hooks, backed by identity: checked before the socket is accepted. */
export const socketAuthHooks = (identity: Identity, drafts: Drafts, proxyTrust: ProxyTrust | null, onAuthenticated: (a: Authed) => void): { authenticate: AuthenticateHook, reauthenticate: ReauthenticateHook } => ({
  authenticate: async (req, docName) => {
    const token = tokenFromUpgrade(req)
    if (!token) throw new AuthRejection(401, ErrorCode.invalidToken, 'access token required (?token= or Sec-WebSocket-Protocol)')
    const a = await verify(identity, token)
    const access = await accessFor(drafts, docName, a.user.id)
    await identity.touch(a.session, upgradeClientIp(req, proxyTrust))
    onAuthenticated(a)
    return principalOf(a, access)
  },
  reauthenticate: async (token, docName, current) => {
    const a = await verify(identity, token)
    if (a.user.id !== current.userId || a.session.id !== current.sessionId) throw new AuthRejection(403, ErrorCode.forbidden, 'token belongs to another device session')
    const access = await accessFor(drafts, docName, a.user.id)
    onAuthenticated(a)
    return principalOf(a, access)
  }
})
